//! The checked-in C header must be exactly what the pinned cbindgen generates.
//!
//! `include/carematch.h` is generated from `src/` and `cbindgen.toml` by cbindgen (pinned as a
//! dev-dependency), plus version macros computed here from `CARGO_PKG_VERSION`, so the version in
//! the header can never drift from Cargo.toml. The test fails when the checked-in file differs;
//! run it with `CAREMATCH_BLESS=1` to write the file instead:
//!
//! ```text
//! CAREMATCH_BLESS=1 cargo test -p carematch-ffi --test header
//! ```

use std::path::{Path, PathBuf};

const BLESS_VAR: &str = "CAREMATCH_BLESS";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `#define`s for the version of this crate (the workspace version).
fn version_macros() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let patch = env!("CARGO_PKG_VERSION_PATCH");
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "\n\
         /** The version of carematch this header describes (from Cargo.toml). Compare with\n \
         * carematch_version() to detect a header/library mismatch at run time. */\n\
         #define CAREMATCH_VERSION_MAJOR {major}\n\
         #define CAREMATCH_VERSION_MINOR {minor}\n\
         #define CAREMATCH_VERSION_PATCH {patch}\n\
         #define CAREMATCH_VERSION \"{version}\""
    )
}

/// Generates the header text with the pinned cbindgen.
fn generate() -> String {
    let dir = crate_dir();
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cannot load ffi/cbindgen.toml: {e}"));
    assert!(
        config.after_includes.is_none(),
        "cbindgen.toml must not set after_includes: tests/header.rs sets it to the version macros"
    );
    config.after_includes = Some(version_macros());

    // with_src parses src/lib.rs and the modules it declares, without running `cargo metadata`
    // (no nested cargo, no lock contention, same output on any machine).
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src").join("lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote invalid UTF-8")
}

fn header_path() -> PathBuf {
    crate_dir().join("include").join("carematch.h")
}

fn display(path: &Path) -> String {
    path.strip_prefix(crate_dir().parent().unwrap_or(Path::new("")))
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn header_is_up_to_date() {
    let generated = generate();
    let path = header_path();

    if std::env::var_os(BLESS_VAR).is_some_and(|v| v == "1") {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("cannot create ffi/include");
        }
        std::fs::write(&path, &generated)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("wrote {}", display(&path));
        return;
    }

    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let first_diff = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "\n{} is out of date with ffi/src and ffi/cbindgen.toml \
             (first difference at line {}).\n\
             Regenerate it and commit the result:\n\n    \
             {BLESS_VAR}=1 cargo test -p carematch-ffi --test header\n",
            display(&path),
            first_diff + 1,
        );
    }
}

#[test]
fn header_declares_the_version_of_this_crate() {
    let generated = generate();
    let expected = format!(
        "#define CAREMATCH_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(generated.contains(&expected), "missing {expected}");
    assert_eq!(env!("CARGO_PKG_VERSION"), carematch::VERSION);
}
