//! Gives the shared library libzmq's soname, so that the dynamic linker
//! takes it for libzmq.so.5 (a program linked against libzmq finds it through
//! LD_LIBRARY_PATH, or a symlink named libzmq.so.5), and writes `libzmq.pc`
//! beside the library, so that `pkg-config --cflags --libs libzmq` with
//! PKG_CONFIG_PATH set to that directory builds a libzmq program against it.

use std::path::{Path, PathBuf};

/// libzmq's version whose ABI the library offers (as `zmq_version` says).
const VERSION: &str = "4.3.4";

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzmq.so.5");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out: the library
    // lands in <target>/<profile>.
    let Some(library_dir) = out.ancestors().nth(3) else {
        println!("cargo:warning=no profile directory above OUT_DIR; libzmq.pc not written");
        return;
    };
    let pc = pkg_config_file(library_dir, &manifest.join("include"));
    if let Err(e) = std::fs::write(library_dir.join("libzmq.pc"), pc) {
        println!("cargo:warning=libzmq.pc not written: {e}");
    }
}

/// A pkg-config file naming this build's library and header directories.
fn pkg_config_file(library_dir: &Path, include_dir: &Path) -> String {
    format!(
        "# Monocoque's libzmq.so.5 (monocoque-capi), written by its build.\n\
         libdir={}\n\
         includedir={}\n\
         \n\
         Name: libzmq\n\
         Description: Monocoque behind libzmq's C API\n\
         Version: {VERSION}\n\
         Libs: -L${{libdir}} -lzmq\n\
         Cflags: -I${{includedir}}\n",
        library_dir.display(),
        include_dir.display(),
    )
}
