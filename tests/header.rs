//! `include/ticker.h` is checked in, and must be what cbindgen makes of `src/ffi.rs` with
//! `cbindgen.toml`. This test regenerates it in memory and fails when the file is stale;
//! `make header` (which runs this test with `TICKER_WRITE_HEADER=1`) rewrites it.

use std::path::Path;

fn generate(root: &Path) -> Vec<u8> {
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot read src/ffi.rs: {e}"));
    let mut header = Vec::new();
    bindings.write(&mut header);
    header
}

#[test]
fn the_checked_in_header_is_what_cbindgen_makes_of_the_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("include/ticker.h");
    let fresh = generate(root);
    if std::env::var_os("TICKER_WRITE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("cannot write include/ticker.h");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/ticker.h is stale (src/ffi.rs or cbindgen.toml changed): run `make header` and \
         commit the result. It should be:\n{}",
        String::from_utf8_lossy(&fresh)
    );
}

#[test]
fn the_header_loads_into_php_ffi_as_it_is() {
    // FFI::load() honours `#define FFI_SCOPE` / `FFI_LIB` only as the file's first lines (after
    // a comment it loads no library at all) and takes the rest as C declarations: no #include,
    // include guard or other macro belongs there.
    let header = String::from_utf8(generate(Path::new(env!("CARGO_MANIFEST_DIR")))).unwrap();
    let mut lines = header.lines();
    assert_eq!(lines.next(), Some("#define FFI_SCOPE \"TICKER\""));
    assert_eq!(lines.next(), Some("#define FFI_LIB \"libticker.so\""));
    let stray: Vec<&str> = lines.filter(|l| l.trim_start().starts_with('#')).collect();
    assert!(
        stray.is_empty(),
        "preprocessor lines PHP's FFI rejects: {stray:?}"
    );
}
