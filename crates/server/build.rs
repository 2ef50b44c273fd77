//! Builds the web client (`web/`, Svelte + Vite) into OUT_DIR and generates `web_assets.rs`,
//! which embeds every built file in the binary: one binary is the whole product.
//!
//! `npm ci` runs only when `web/node_modules` is missing or older than `package-lock.json`;
//! `npm run build` runs when the web sources change. Without npm the build fails with a
//! message saying so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

fn main() {
    if let Err(message) = run() {
        // A build script reports failure through its exit status; stderr is shown to the user.
        eprintln!("\nerror: cannot build the web client: {message}\n");
        std::process::exit(1);
    }
}

#[allow(
    clippy::print_stdout,
    reason = "a build script talks to cargo through stdout"
)]
fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let web = manifest_dir.join("../../web");
    let web = web
        .canonicalize()
        .map_err(|e| format!("web sources not found at {}: {e}", web.display()))?;

    for input in [
        "src",
        "public",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "emoji-catalogue.ts",
        "svelte.config.js",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=COMET_NPM");

    let npm = std::env::var("COMET_NPM").unwrap_or_else(|_| "npm".to_owned());
    if Command::new(&npm)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Err(format!(
            "`{npm}` was not found. The web client is built with Node.js (>= 20.19) and npm; \
             install them (Debian: `apt-get install nodejs npm`) and build again."
        ));
    }

    if needs_install(&web) {
        npm_run(&npm, &web, &["ci", "--no-audit", "--no-fund"], None)?;
    }
    let dist = out_dir.join("web");
    npm_run(&npm, &web, &["run", "build"], Some(&dist))?;

    let mut files = Vec::new();
    collect(&dist, &dist, &mut files)?;
    files.sort();
    let generated = generate(&dist, &files)?;
    std::fs::write(out_dir.join("web_assets.rs"), generated)
        .map_err(|e| format!("cannot write web_assets.rs: {e}"))?;
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// node_modules is missing, or older than the lock file it should match.
fn needs_install(web: &Path) -> bool {
    let marker = web.join("node_modules/.package-lock.json");
    match (modified(&marker), modified(&web.join("package-lock.json"))) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}

fn npm_run(npm: &str, web: &Path, args: &[&str], out: Option<&Path>) -> Result<(), String> {
    let mut command = Command::new(npm);
    command
        .args(args)
        .current_dir(web)
        // Keep the build script's stdout for cargo directives only.
        .stdout(std::io::stderr());
    if let Some(out) = out {
        command.env("COMET_WEB_OUT", out);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run `{npm} {}`: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{npm} {}` in {} failed ({status})",
            args.join(" "),
            web.display()
        ))
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative.to_string_lossy().replace('\\', "/");
            if !relative.ends_with(".gz") && !relative.ends_with(".br") {
                files.push(relative);
            }
        }
    }
    Ok(())
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit('.').next().unwrap_or_default();
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A short strong validator: FNV-1a of the body, as hex.
fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

fn generate(dist: &Path, files: &[String]) -> Result<String, String> {
    let mut out = String::from(
        "// Generated by crates/server/build.rs from the web client build. Do not edit.\n\
         pub static ASSETS: &[Asset] = &[\n",
    );
    for file in files {
        let full = dist.join(file);
        let body = std::fs::read(&full).map_err(|e| format!("cannot read {file}: {e}"))?;
        let variant = |suffix: &str| {
            let path = dist.join(format!("{file}.{suffix}"));
            if path.exists() {
                format!("Some(include_bytes!({:?}))", path.display().to_string())
            } else {
                "None".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "    Asset {{ path: {:?}, content_type: {:?}, etag: {:?}, body: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            format!("/{file}"),
            content_type(file),
            etag(&body),
            full.display().to_string(),
            variant("gz"),
            variant("br"),
        );
    }
    out.push_str("];\n");
    Ok(out)
}
