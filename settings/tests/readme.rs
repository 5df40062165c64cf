//! README.md's table of the runtime's settings is the table of this crate.

use std::path::Path;

#[test]
fn the_readme_table_is_the_settings_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let updated = settings::markdown::updated(&readme).expect(
        "README.md has the markers of the settings table (settings::markdown::BEGIN and END)",
    );
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(&path, &updated).expect("writing README.md");
        return;
    }
    assert!(
        readme == updated,
        "README.md's settings table differs from settings/src/table.rs: run \
         `UPDATE_README=1 cargo test -p elixir_scope_settings --test readme` and commit README.md"
    );
}
