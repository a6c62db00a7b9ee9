//! Gives the shared library libzmq's soname, so that the dynamic linker
//! takes it for libzmq.so.5 (a program linked against libzmq finds it through
//! LD_LIBRARY_PATH, or a symlink named libzmq.so.5).

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzmq.so.5");
    println!("cargo:rerun-if-changed=build.rs");
}
