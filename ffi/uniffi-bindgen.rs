//! The UniFFI bindings generator, built from this crate's own uniffi (so
//! the generated Kotlin and Swift match the scaffolding exactly).

fn main() {
    uniffi::uniffi_bindgen_main()
}
