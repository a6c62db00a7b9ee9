//! A service socket's security, as the config gives it:
//!
//! ```toml
//! # a CURVE server: its secret key from a file only its user can read,
//! # clients admitted by public key (a list, a directory of CZMQ
//! # certificates, or both; neither admits every client that knows the
//! # server's public key, as libzmq without a ZAP handler)
//! frontend = { bind = ["tcp://*:5556"], curve = { secret_key_file = "server_secret", allow = ["Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"], allow_dir = "clients" } }
//! # a CURVE client of another box
//! backend = { connect = ["tcp://hub:5557"], curve = { secret_key_file = "me_secret", server_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" } }
//! # a PLAIN server: one `name=password` per line (CZMQ's zauth format)
//! frontend = { bind = ["tcp://*:5559"], plain = { users_file = "users" } }
//! ```
//! Relative paths are read from the config file's directory. Files holding
//! secrets (secret keys, passwords) are refused when every user can read
//! them. Keys and passwords are never logged: `Debug` shows file names and
//! public keys only.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use monocoque_patterns::SocketOption;
use monocoque_zmtp::mechanism::{CurvePublicKey, CurveSecretKey};
use monocoque_zmtp::{AuthDecision, Authenticator, Credentials};
use serde::Deserialize;

use crate::zcert::{self, FileError};

/// `curve = { ... }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCurve {
    secret_key_file: String,
    server_key: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
    allow_dir: Option<String>,
}

/// `plain = { ... }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlain {
    users_file: String,
}

/// A socket's security, checked and loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Security {
    /// CURVE server.
    CurveServer {
        /// Its long-term secret key.
        secret: SecretKeyFile,
        /// Who gets in (`None`: any client).
        allowed: Option<AllowList>,
    },
    /// CURVE client of the server with `server_key`.
    CurveClient {
        /// Its long-term secret key.
        secret: SecretKeyFile,
        /// The server's public key.
        server_key: CurvePublicKey,
    },
    /// PLAIN server.
    PlainServer {
        /// Who gets in, with which password.
        users: PlainUsers,
    },
}

impl Security {
    /// The socket options that set it up.
    pub fn options(&self) -> Vec<SocketOption> {
        match self {
            Security::CurveServer { secret, allowed } => {
                let mut o = vec![
                    SocketOption::CurveServer(true),
                    SocketOption::CurveSecretKey(secret.key.clone()),
                ];
                if let Some(list) = allowed {
                    o.push(SocketOption::CurveAuthenticator(Arc::new(list.clone())));
                }
                o
            }
            Security::CurveClient { secret, server_key } => vec![
                SocketOption::CurveServerKey(*server_key),
                SocketOption::CurveSecretKey(secret.key.clone()),
            ],
            Security::PlainServer { users } => {
                vec![SocketOption::PlainServer(Arc::new(users.clone()))]
            }
        }
    }

    /// One phrase for the startup line (public facts only).
    pub fn describe(&self) -> String {
        match self {
            Security::CurveServer { secret, allowed } => format!(
                "CURVE server {} ({})",
                secret.key.public_key(),
                match allowed {
                    Some(l) => format!("{} client key(s) allowed", l.keys.len()),
                    None => "any client key".into(),
                }
            ),
            Security::CurveClient { server_key, .. } => format!("CURVE client of {server_key}"),
            Security::PlainServer { users } => {
                format!("PLAIN server ({} user(s))", users.passwords.len())
            }
        }
    }
}

/// A secret key and the file it came from. Equal when the keys are.
#[derive(Clone)]
pub struct SecretKeyFile {
    /// Where it was read.
    pub path: PathBuf,
    key: CurveSecretKey,
}

impl PartialEq for SecretKeyFile {
    fn eq(&self, other: &Self) -> bool {
        // Equal public keys mean equal secret keys.
        self.path == other.path && self.key.public_key() == other.key.public_key()
    }
}

impl fmt::Debug for SecretKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeyFile")
            .field("path", &self.path)
            .field("public_key", &self.key.public_key())
            .finish()
    }
}

/// The CURVE clients a server admits, by public key, each with the user id
/// its connections get (the certificate's name, or the key).
#[derive(Debug, Clone, PartialEq)]
pub struct AllowList {
    keys: HashMap<CurvePublicKey, Bytes>,
}

impl AllowList {
    /// A list of `(key, user id)`.
    pub fn new(keys: impl IntoIterator<Item = (CurvePublicKey, Bytes)>) -> AllowList {
        AllowList {
            keys: keys.into_iter().collect(),
        }
    }
}

impl Authenticator for AllowList {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Curve { public_key } => match self.keys.get(public_key) {
                Some(user) => AuthDecision::accept(Some(user.clone())),
                None => AuthDecision::Deny {
                    reason: "400 client key not allowed".into(),
                },
            },
            _ => AuthDecision::Deny {
                reason: "400 CURVE only".into(),
            },
        }
    }
}

/// PLAIN users and passwords.
#[derive(Clone, PartialEq)]
pub struct PlainUsers {
    path: PathBuf,
    passwords: HashMap<Vec<u8>, Vec<u8>>,
}

impl fmt::Debug for PlainUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainUsers")
            .field("path", &self.path)
            .field("users", &self.passwords.len())
            .finish_non_exhaustive()
    }
}

impl Authenticator for PlainUsers {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        let Credentials::Plain { username, password } = c else {
            return AuthDecision::Deny {
                reason: "400 PLAIN only".into(),
            };
        };
        match self.passwords.get(*username) {
            Some(expected) if same_bytes(expected, password) => {
                AuthDecision::accept(Some(Bytes::copy_from_slice(username)))
            }
            _ => AuthDecision::Deny {
                reason: "400 bad username or password".into(),
            },
        }
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell an attacker how much of a password was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Why a security table was refused: a config field (`Field`) or a line of
/// a file it names (`File`).
#[derive(Debug)]
pub enum SecurityError {
    /// A field of the config.
    Field(String),
    /// A line of a key, certificate or users file.
    File(FileError),
}

impl From<FileError> for SecurityError {
    fn from(e: FileError) -> Self {
        SecurityError::File(e)
    }
}

fn load_secret(base: &Path, path: &str) -> Result<SecretKeyFile, SecurityError> {
    let path = resolve(base, path);
    zcert::check_private(&path)?;
    Ok(SecretKeyFile {
        key: zcert::load_secret(&path)?,
        path,
    })
}

/// Checks and loads a `curve` table; `base` is the config file's directory.
pub fn curve(raw: &RawCurve, base: &Path) -> Result<Security, SecurityError> {
    let secret = load_secret(base, &raw.secret_key_file)?;
    if let Some(server_key) = &raw.server_key {
        if !raw.allow.is_empty() || raw.allow_dir.is_some() {
            return Err(SecurityError::Field(
                "curve: allow and allow_dir are for a server; server_key makes this a client"
                    .into(),
            ));
        }
        let server_key = zcert::parse_public_z85(server_key)
            .map_err(|e| SecurityError::Field(format!("curve.server_key: {e}")))?;
        return Ok(Security::CurveClient { secret, server_key });
    }
    if raw.allow.is_empty() && raw.allow_dir.is_none() {
        return Ok(Security::CurveServer {
            secret,
            allowed: None,
        });
    }
    let mut keys = Vec::new();
    for (i, text) in raw.allow.iter().enumerate() {
        let key = zcert::parse_public_z85(text)
            .map_err(|e| SecurityError::Field(format!("curve.allow[{i}]: {e}")))?;
        keys.push((key, Bytes::from(key.to_z85())));
    }
    if let Some(dir) = &raw.allow_dir {
        keys.extend(certificates(&resolve(base, dir))?);
    }
    Ok(Security::CurveServer {
        secret,
        allowed: Some(AllowList::new(keys)),
    })
}

/// Every public certificate in `dir`, as CZMQ's certificate store reads a
/// directory: subdirectories too, `_secret` files and hidden files skipped.
/// Symbolic links to directories are not followed (no loops), and a
/// directory or certificate every user may write is refused: whoever can
/// write there can admit their own key.
fn certificates(dir: &Path) -> Result<Vec<(CurvePublicKey, Bytes)>, SecurityError> {
    refuse_world_writable(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|e| {
        SecurityError::File(FileError {
            file: dir.display().to_string(),
            line: 0,
            what: format!("cannot read the directory: {e}"),
        })
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut keys = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name.ends_with("_secret") {
            continue;
        }
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if path.is_dir() {
            if !is_link {
                keys.extend(certificates(&path)?);
            }
            continue;
        }
        refuse_world_writable(&path)?;
        let (key, cert_name) = zcert::load_public(&path)?;
        let user = cert_name.unwrap_or_else(|| key.to_z85());
        keys.push((key, Bytes::from(user)));
    }
    Ok(keys)
}

fn refuse_world_writable(path: &Path) -> Result<(), SecurityError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if mode & 0o002 != 0 {
        return Err(SecurityError::File(FileError {
            file: path.display().to_string(),
            line: 0,
            what: format!(
                "every user may write it (mode {:03o}), so anyone could admit their own key; chmod o-w it",
                mode & 0o777
            ),
        }));
    }
    Ok(())
}

/// Checks and loads a `plain` table.
pub fn plain(raw: &RawPlain, base: &Path) -> Result<Security, SecurityError> {
    let path = resolve(base, &raw.users_file);
    zcert::check_private(&path)?;
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| FileError {
        file: path.display().to_string(),
        line: 0,
        what: format!("cannot read it: {e}"),
    })?);
    let mut passwords = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((user, password))
                if !user.is_empty() && user.len() <= 255 && password.len() <= 255 =>
            {
                passwords.insert(user.as_bytes().to_vec(), password.as_bytes().to_vec());
            }
            _ => {
                return Err(SecurityError::File(FileError {
                    file: path.display().to_string(),
                    line: i + 1,
                    what: "expected name=password (each at most 255 bytes)".into(),
                }))
            }
        }
    }
    Ok(Security::PlainServer {
        users: PlainUsers { path, passwords },
    })
}

/// The CURVE options of `monocoque cat`, checked: the role follows from
/// which keys are given.
pub fn cat_options(
    server: bool,
    secret: Option<CurveSecretKey>,
    public: Option<CurvePublicKey>,
    server_key: Option<CurvePublicKey>,
    allow: &[CurvePublicKey],
) -> Result<Vec<SocketOption>, String> {
    let curve_wanted = server || secret.is_some() || server_key.is_some() || !allow.is_empty();
    if !curve_wanted {
        if public.is_some() {
            return Err("--curve-publickey goes with --curve-secretkey".into());
        }
        return Ok(Vec::new());
    }
    if server && server_key.is_some() {
        return Err("--curve-server and --curve-serverkey exclude each other".into());
    }
    if !allow.is_empty() && !server {
        return Err("--curve-allow is for a --curve-server".into());
    }
    let mut options = Vec::new();
    if server {
        let secret = secret.ok_or("--curve-server needs --curve-secretkey")?;
        options.push(SocketOption::CurveServer(true));
        options.push(SocketOption::CurveSecretKey(secret));
        if !allow.is_empty() {
            let list = AllowList::new(allow.iter().map(|k| (*k, Bytes::from(k.to_z85()))));
            options.push(SocketOption::CurveAuthenticator(Arc::new(list)));
        }
    } else {
        let server_key =
            server_key.ok_or("a CURVE client needs --curve-serverkey (or give --curve-server)")?;
        options.push(SocketOption::CurveServerKey(server_key));
        // A client without keys of its own gets a fresh pair, as a
        // throwaway identity.
        options.push(SocketOption::CurveSecretKey(
            secret.unwrap_or_else(CurveSecretKey::generate),
        ));
    }
    if let Some(public) = public {
        options.push(SocketOption::CurvePublicKey(public));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use monocoque_zmtp::mechanism::CurveKeyPair;

    #[test]
    fn the_allow_list_names_its_users_and_refuses_others() {
        let alice = CurveKeyPair::generate().public;
        let list = AllowList::new([(alice, Bytes::from_static(b"alice"))]);
        assert_eq!(
            list.authenticate(&Credentials::Curve { public_key: alice }),
            AuthDecision::accept(Some(Bytes::from_static(b"alice")))
        );
        assert!(matches!(
            list.authenticate(&Credentials::Curve {
                public_key: CurveKeyPair::generate().public
            }),
            AuthDecision::Deny { .. }
        ));
    }

    #[test]
    fn plain_users_compare_whole_passwords() {
        let users = PlainUsers {
            path: PathBuf::from("users"),
            passwords: [(b"admin".to_vec(), b"secret".to_vec())].into(),
        };
        let try_ = |u: &[u8], p: &[u8]| {
            matches!(
                users.authenticate(&Credentials::Plain {
                    username: u,
                    password: p
                }),
                AuthDecision::Accept { .. }
            )
        };
        assert!(try_(b"admin", b"secret"));
        assert!(!try_(b"admin", b"secre"));
        assert!(!try_(b"admin", b"secret!"));
        assert!(!try_(b"root", b"secret"));
        assert!(!format!("{users:?}").contains("secret"));
    }

    #[test]
    fn cat_roles_follow_the_keys_given() {
        let pair = CurveKeyPair::generate();
        assert!(cat_options(false, None, None, None, &[])
            .unwrap()
            .is_empty());
        assert!(cat_options(true, None, None, None, &[]).is_err());
        assert_eq!(
            cat_options(true, Some(pair.secret.clone()), None, None, &[pair.public])
                .unwrap()
                .len(),
            3
        );
        assert!(cat_options(false, None, None, None, &[pair.public]).is_err());
        assert!(cat_options(
            true,
            Some(pair.secret.clone()),
            None,
            Some(pair.public),
            &[]
        )
        .is_err());
        assert_eq!(
            cat_options(false, None, None, Some(pair.public), &[])
                .unwrap()
                .len(),
            2
        );
    }
}
