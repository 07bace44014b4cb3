//! `tests/install-deps.sh` installs everything the README's test command needs on a fresh
//! Debian 12: a program the script or the tests run that is not in every Debian install
//! (priority optional) must be one of its `APT_PACKAGES`.

/// The `APT_PACKAGES=(...)` list of the script.
fn apt_packages(script: &str) -> Vec<String> {
    script
        .lines()
        .find_map(|l| l.trim().strip_prefix("APT_PACKAGES=("))
        .and_then(|rest| rest.split_once(')'))
        .map(|(list, _)| list.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn install_deps_installs_what_a_fresh_debian_lacks() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = std::fs::read_to_string(format!("{root}/tests/install-deps.sh"))
        .expect("read tests/install-deps.sh");
    let packages = apt_packages(&script);
    assert!(packages.iter().any(|p| p == "postfix"), "{packages:?}");
    // what the script itself runs, and the Debian package that provides it (none of these is
    // installed on a minimal Debian 12: priority optional)
    let needs = [("-m pip install", "python3-pip"), ("python3", "python3")];
    for (uses, package) in needs {
        assert!(
            !script.contains(uses) || packages.iter().any(|p| p == package),
            "install-deps.sh runs `{uses}` but does not install {package}: {packages:?}"
        );
    }
}

#[test]
fn the_list_is_read() {
    let script = "x\nAPT_PACKAGES=(gcc cmake python3-pip)\n";
    assert_eq!(apt_packages(script), ["gcc", "cmake", "python3-pip"]);
    assert!(apt_packages("APT=(x)").is_empty());
}
