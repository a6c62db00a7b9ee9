//! Key files as CZMQ writes them (`zcert_save`): ZPL (RFC 4), a `curve`
//! section holding `public-key` and, in the `_secret` file, `secret-key`,
//! each 40 characters of Z85; an optional `metadata` section (`name`).
//!
//! ```text
//! #   ****  Generated on 2026-11-30 by CZMQ  ****
//! #   ZeroMQ CURVE Public Certificate
//!
//! metadata
//!     name = "alice"
//! curve
//!     public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
//! ```
//! A secret key file may also be one line holding the 40-character key, as
//! `monocoque curve keygen` prints it. Every refusal names the file and line.

use std::path::Path;

use monocoque_zmtp::mechanism::curve::KEY_Z85_LEN;
use monocoque_zmtp::mechanism::{CurvePublicKey, CurveSecretKey};

/// A key file that could not be used: the file, the line (0: the whole
/// file) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as named in the config.
    pub file: String,
    /// 1-based; 0 when the problem is not on one line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl FileError {
    fn at(file: &Path, line: usize, what: impl Into<String>) -> FileError {
        FileError {
            file: file.display().to_string(),
            line,
            what: what.into(),
        }
    }
}

/// One `name = value` of a ZPL file, with its section path and line.
struct Entry {
    path: String,
    value: String,
    line: usize,
}

/// Reads ZPL: 4 spaces of indent per level, `#` comments, values quoted
/// with `"` or `'` or bare. `quote` says whether errors may quote the text
/// (never for a file of secrets).
fn read_zpl(file: &Path, text: &str, quote: bool) -> Result<Vec<Entry>, FileError> {
    let mut stack: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed_end = raw.trim_end();
        let body = trimmed_end.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = trimmed_end.len() - body.len();
        if indent % 4 != 0 || indent / 4 > stack.len() {
            return Err(FileError::at(
                file,
                line,
                "indent by 4 spaces per level (ZPL)",
            ));
        }
        stack.truncate(indent / 4);
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(file, line, v.trim())?)),
            None => (body.split('#').next().unwrap_or("").trim(), None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "$-_@.&+/".contains(c))
        {
            return Err(FileError::at(
                file,
                line,
                if quote {
                    format!("{name:?} is not a ZPL name")
                } else {
                    "not a ZPL name".to_string()
                },
            ));
        }
        stack.push(name.to_string());
        if let Some(value) = value {
            entries.push(Entry {
                path: stack.join("/"),
                value,
                line,
            });
        }
    }
    Ok(entries)
}

fn unquote(file: &Path, line: usize, v: &str) -> Result<String, FileError> {
    for q in ['"', '\''] {
        if let Some(rest) = v.strip_prefix(q) {
            return match rest.find(q) {
                Some(end) => Ok(rest[..end].to_string()),
                None => Err(FileError::at(
                    file,
                    line,
                    format!("the {q} quote is not closed"),
                )),
            };
        }
    }
    Ok(v.split('#').next().unwrap_or("").trim_end().to_string())
}

fn read(file: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(file)
        .map_err(|e| FileError::at(file, 0, format!("cannot read it: {e}")))
}

/// A public certificate: its key and its `metadata/name`, if any.
pub fn load_public(file: &Path) -> Result<(CurvePublicKey, Option<String>), FileError> {
    let text = read(file)?;
    let entries = read_zpl(file, &text, true)?;
    let key = entries
        .iter()
        .find(|e| e.path == "curve/public-key")
        .ok_or_else(|| FileError::at(file, 0, "no curve/public-key: not a CZMQ certificate"))?;
    let public = parse_public_z85(&key.value)
        .map_err(|e| FileError::at(file, key.line, format!("public-key: {e}")))?;
    let name = entries
        .iter()
        .find(|e| e.path == "metadata/name")
        .map(|e| e.value.clone());
    Ok((public, name))
}

/// A secret key: from a CZMQ `_secret` certificate (its public key, if
/// given, must match) or a file of one 40-character Z85 line.
pub fn load_secret(file: &Path) -> Result<CurveSecretKey, FileError> {
    let text = zeroize::Zeroizing::new(read(file)?);
    // A bare key (as `curve keygen` prints it): one line of 40 Z85
    // characters, which may well contain `=` or start with `#`, so it is
    // looked for before the file is read as ZPL; other lines are comments.
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let keys: Vec<CurveSecretKey> = lines
        .iter()
        .filter(|(_, l)| l.len() == KEY_Z85_LEN)
        .filter_map(|(_, l)| CurveSecretKey::parse(l.as_bytes()).ok())
        .collect();
    if let [key] = keys.as_slice() {
        if lines
            .iter()
            .all(|(_, l)| l.starts_with('#') || l.len() == KEY_Z85_LEN)
        {
            return Ok(key.clone());
        }
    }
    let entries = read_zpl(file, &text, false)?;
    let entry = entries
        .iter()
        .find(|e| e.path == "curve/secret-key")
        .ok_or_else(|| {
            FileError::at(
                file,
                0,
                "no curve/secret-key (a CZMQ _secret certificate) and not one 40-character key",
            )
        })?;
    if entry.value.len() != KEY_Z85_LEN {
        return Err(secret_refused(file, entry.line));
    }
    let secret = CurveSecretKey::parse(entry.value.as_bytes())
        .map_err(|_| secret_refused(file, entry.line))?;
    if let Some(p) = entries.iter().find(|e| e.path == "curve/public-key") {
        let public = parse_public_z85(&p.value)
            .map_err(|e| FileError::at(file, p.line, format!("public-key: {e}")))?;
        if public != secret.public_key() {
            return Err(FileError::at(
                file,
                p.line,
                "public-key is not the public key of secret-key",
            ));
        }
    }
    Ok(secret)
}

/// A public key written as text: 40 Z85 characters only (32 characters
/// would otherwise be taken as raw bytes).
pub fn parse_public_z85(text: &str) -> Result<CurvePublicKey, String> {
    if text.len() != KEY_Z85_LEN {
        return Err(format!(
            "a CURVE key is 40 Z85 characters, not {}",
            text.len()
        ));
    }
    CurvePublicKey::parse(text.as_bytes()).map_err(|e| e.to_string())
}

/// Why a secret key was refused, without a word of the key (a parse error
/// would quote the character it stopped at).
fn secret_refused(file: &Path, line: usize) -> FileError {
    FileError::at(
        file,
        line,
        "not a CURVE secret key (40 Z85 characters, or 32 bytes)",
    )
}

/// Refuses a file of secrets that every user can read.
pub fn check_private(file: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .map_err(|e| FileError::at(file, 0, format!("cannot read it: {e}")))?
        .permissions()
        .mode();
    if mode & 0o004 != 0 {
        return Err(FileError::at(
            file,
            0,
            format!(
                "it holds secrets and every user can read it (mode {:03o}); chmod 600 it",
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    const SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A test's temporary directory, removed when dropped.
    fn dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("mq-zcert-")
            .tempdir()
            .unwrap()
    }

    #[test]
    fn czmq_certificates_are_read() {
        let temp = dir();
        let d = temp.path();
        let public = write(
            d,
            "alice",
            &format!(
                "#   ****  Generated on 2026-11-30 by CZMQ  ****\n#   ZeroMQ CURVE Public Certificate\n\n\
                 metadata\n    name = \"alice\"\ncurve\n    public-key = \"{PUBLIC}\"\n"
            ),
        );
        let (key, name) = load_public(&public).unwrap();
        assert_eq!(key.to_z85(), PUBLIC);
        assert_eq!(name.as_deref(), Some("alice"));
        let secret = write(
            d,
            "alice_secret",
            &format!(
                "#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\ncurve\n    \
                 public-key = \"{PUBLIC}\"\n    secret-key = '{SECRET}'\n"
            ),
        );
        assert_eq!(load_secret(&secret).unwrap().public_key().to_z85(), PUBLIC);
        let bare = write(d, "bare", &format!("# from curve keygen\n{SECRET}\n"));
        assert_eq!(load_secret(&bare).unwrap().public_key().to_z85(), PUBLIC);
        // Keys holding `=`, or starting with `#`, are still bare keys.
        for _ in 0..200 {
            let pair = monocoque_zmtp::mechanism::CurveKeyPair::generate();
            let text = pair.secret.to_z85();
            let f = write(d, "generated", &format!("{}\n", &*text));
            assert_eq!(load_secret(&f).unwrap().public_key(), pair.public);
        }
    }

    #[test]
    fn refusals_name_the_file_and_line() {
        let temp = dir();
        let d = temp.path();
        let bad_indent = write(d, "indent", "curve\n   public-key = \"x\"\n");
        let e = load_public(&bad_indent).unwrap_err();
        assert_eq!((e.line, e.file.ends_with("indent")), (2, true));
        let bad_key = write(d, "badkey", "curve\n    public-key = \"short\"\n");
        let e = load_public(&bad_key).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.what.contains("40 Z85"), "{}", e.what);
        let mismatch = write(
            d,
            "mismatch_secret",
            &format!(
                "curve\n    public-key = \"rq:rM>}}U?@Lns47E1%kR.o@n%FcmmsL/@{{H8]yf7\"\n    secret-key = \"{SECRET}\"\n"
            ),
        );
        let e = load_secret(&mismatch).unwrap_err();
        assert_eq!(e.line, 2);
        let garbage = write(d, "garbage", "not a key at all\n");
        let e = load_secret(&garbage).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            !e.what.contains("not a key at all"),
            "secrets are not echoed"
        );
        assert_eq!(load_public(&d.join("missing")).unwrap_err().line, 0);
    }

    #[test]
    fn world_readable_secrets_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let temp = dir();
        let d = temp.path();
        let f = write(d, "open_secret", SECRET);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_private(&f).unwrap_err();
        assert!(e.what.contains("mode 644"), "{}", e.what);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_private(&f).is_ok());
    }
}
