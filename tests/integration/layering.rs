//! The workspace is layered: each `spectrans-*` crate depends (normal dependencies) only on crates
//! strictly below it in
//! `spectrans-tensor < spectrans-transforms < spectrans-data < spectrans-layers < spectrans-train <
//! spectrans-models < spectrans-tasks < spectrans`.
//! A workspace crate missing from this order fails the test until it is given a place in it.

use std::process::Command;

use serde_json::{json, Value};

/// The layers, lowest first.
const ORDER: [&str; 8] = [
    "spectrans-tensor",
    "spectrans-transforms",
    "spectrans-data",
    "spectrans-layers",
    "spectrans-train",
    "spectrans-models",
    "spectrans-tasks",
    "spectrans",
];

fn layer(name: &str) -> Option<usize> {
    ORDER.iter().position(|&n| n == name)
}

/// Every layering violation in `cargo metadata --format-version 1 --no-deps` output.
fn violations(metadata: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(packages) = metadata["packages"].as_array() else {
        return vec!["cargo metadata output has no `packages` array".into()];
    };
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    for package in packages {
        let name = package["name"].as_str().unwrap_or("<unnamed>");
        let Some(own) = layer(name) else {
            errors.push(format!(
                "workspace crate `{name}` has no place in the layer order {ORDER:?}; add it to tests/layering.rs"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if !dep["kind"].is_null() {
                continue; // dev- and build-dependencies are not part of the layering
            }
            let dep_name = dep["name"].as_str().unwrap_or("<unnamed>");
            if !dep_name.starts_with("spectrans") && !members.contains(&dep_name) {
                continue; // third-party crate
            }
            match layer(dep_name) {
                None => errors
                    .push(format!("`{name}` depends on `{dep_name}`, which has no place in the layer order {ORDER:?}")),
                Some(d) if d >= own => errors.push(format!(
                    "`{name}` (layer {own}) depends on `{dep_name}` (layer {d}): only crates strictly below may be used"
                )),
                Some(_) => {}
            }
        }
    }
    errors
}

#[test]
fn workspace_crates_depend_only_on_lower_layers() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path", manifest])
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let names: Vec<&str> =
        metadata["packages"].as_array().expect("packages").iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"spectrans") && names.contains(&"spectrans-tensor"), "members: {names:?}");
    let errors = violations(&metadata);
    assert!(errors.is_empty(), "layering violations:\n{}", errors.join("\n"));
}

fn package(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
    let deps: Vec<Value> = deps.iter().map(|(d, kind)| json!({ "name": d, "kind": kind })).collect();
    json!({ "name": name, "dependencies": deps })
}

#[test]
fn checker_accepts_downward_and_third_party_dependencies() {
    let m = json!({ "packages": [
        package("spectrans-tensor", &[("rayon", None), ("spectrans-layers", Some("dev"))]),
        package("spectrans-layers", &[("spectrans-tensor", None), ("spectrans-transforms", None)]),
        package("spectrans-transforms", &[("spectrans-tensor", None)]),
        package("spectrans", &[("spectrans-layers", None), ("spectrans-tensor", None)]),
    ]});
    assert_eq!(violations(&m), Vec::<String>::new());
}

#[test]
fn checker_rejects_upward_sideways_and_unknown_crates() {
    let m = json!({ "packages": [
        package("spectrans-tensor", &[("spectrans-layers", None)]),
        package("spectrans-layers", &[("spectrans-layers", None), ("spectrans-extra", None)]),
        package("spectrans-extra", &[]),
        package("spectrans-models", &[("helper", None)]),
        package("helper", &[]),
    ]});
    let errors = violations(&m);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(errors[0].contains("`spectrans-tensor` (layer 0) depends on `spectrans-layers` (layer 3)"));
    assert!(errors[1].contains("`spectrans-layers` (layer 3) depends on `spectrans-layers` (layer 3)"));
    assert!(errors[2].contains("depends on `spectrans-extra`, which has no place"));
    assert!(errors[3].contains("workspace crate `spectrans-extra` has no place"));
    assert!(errors[4].contains("`spectrans-models` depends on `helper`, which has no place"));
    assert!(errors[5].contains("workspace crate `helper` has no place"));
}
