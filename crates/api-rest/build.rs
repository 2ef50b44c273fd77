//! Records which commit this binary was built from, for `/api/info`'s `info.commit` (what
//! Rocket.Chat's build writes into its `rocketchat.info`). Without git (a source tarball) the
//! fields are empty rather than failing the build.

use std::process::Command;

fn git(args: &[&str]) -> String {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[allow(
    clippy::print_stdout,
    reason = "a build script talks to cargo through stdout"
)]
fn main() {
    let fields = [
        ("COMET_GIT_HASH", git(&["rev-parse", "HEAD"])),
        ("COMET_GIT_DATE", git(&["log", "-1", "--format=%cI"])),
        ("COMET_GIT_AUTHOR", git(&["log", "-1", "--format=%an"])),
        ("COMET_GIT_SUBJECT", git(&["log", "-1", "--format=%s"])),
        ("COMET_GIT_TAG", git(&["describe", "--tags", "--abbrev=0"])),
        (
            "COMET_GIT_BRANCH",
            git(&["rev-parse", "--abbrev-ref", "HEAD"]),
        ),
    ];
    for (name, value) in fields {
        // One line per variable: a subject with a newline would end the directive.
        let value = value.lines().next().unwrap_or_default();
        println!("cargo:rustc-env={name}={value}");
    }
    // A new commit or checkout changes what is recorded.
    for path in ["HEAD", "packed-refs"] {
        let file = git(&["rev-parse", "--git-path", path]);
        if !file.is_empty() {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    if !branch.is_empty() {
        let file = git(&["rev-parse", "--git-path", &branch]);
        if !file.is_empty() {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
