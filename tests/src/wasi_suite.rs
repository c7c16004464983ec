//! The WASI testsuite runner (`../shared/wasi-testsuite`, preview1 tests): each test's
//! `.wasm` is compiled to an artifact file, then run by the deploy-side `precast-run` binary
//! in a subprocess (so `proc_exit`, output and crashes stay isolated) with the arguments,
//! environment and root directory its `.json` gives; the exit code and output are compared
//! with the expectations. See `doc/specification.md` in the suite.

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one test may run before it is killed and counted as failed.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// What a test expects (the legacy spec, or the `run`/`wait`/`read` operations).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// Program arguments (after `argv[0]`).
    pub args: Vec<String>,
    /// The whole guest environment.
    pub env: Vec<(String, String)>,
    /// Directory (relative to the test) preopened as the guest's `/`.
    pub root: Option<String>,
    /// Expected exit code.
    pub exit_code: i32,
    /// Expected stdout, when the spec gives it.
    pub stdout: Option<String>,
    /// Expected stderr, when the spec gives it.
    pub stderr: Option<String>,
    /// Proposals the test needs (none are supported: such tests fail with a message).
    pub proposals: Vec<String>,
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn env_of(v: Option<&serde_json::Value>) -> Vec<(String, String)> {
    v.and_then(|v| v.as_object())
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a test's `.json` (either format); `None` gives the defaults.
pub fn parse_spec(json: Option<&str>) -> Result<Spec, String> {
    let Some(json) = json else {
        return Ok(Spec::default());
    };
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("bad json: {e}"))?;
    let mut spec = Spec {
        proposals: strings(v.get("proposals")),
        ..Spec::default()
    };
    match v.get("operations").and_then(|o| o.as_array()) {
        None => {
            spec.args = strings(v.get("args"));
            spec.env = env_of(v.get("env"));
            spec.root = v.get("root").and_then(|r| r.as_str()).map(str::to_string);
            spec.exit_code = v.get("exit_code").and_then(|c| c.as_i64()).unwrap_or(0) as i32;
            spec.stdout = v.get("stdout").and_then(|s| s.as_str()).map(str::to_string);
            spec.stderr = v.get("stderr").and_then(|s| s.as_str()).map(str::to_string);
        }
        Some(ops) => {
            for op in ops {
                match op.get("type").and_then(|t| t.as_str()) {
                    Some("run") => {
                        spec.args = strings(op.get("args"));
                        spec.env = env_of(op.get("env"));
                        spec.root = op.get("root").and_then(|r| r.as_str()).map(str::to_string);
                    }
                    Some("wait") => {
                        spec.exit_code =
                            op.get("exit_code").and_then(|c| c.as_i64()).unwrap_or(0) as i32;
                    }
                    Some("read") => {
                        let payload = op
                            .get("payload")
                            .and_then(|p| p.as_str())
                            .unwrap_or_default();
                        let stream = match op.get("id").and_then(|i| i.as_str()) {
                            Some("stderr") => &mut spec.stderr,
                            _ => &mut spec.stdout,
                        };
                        stream.get_or_insert_with(String::new).push_str(payload);
                    }
                    Some(other) => return Err(format!("unsupported operation `{other}`")),
                    None => return Err("operation without a type".into()),
                }
            }
        }
    }
    Ok(spec)
}

/// Every test (`.wasm`) of the preview1 suites under `suite/tests`, relative to `suite`,
/// sorted.
pub fn discover(suite: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "wasm")
                && p.components().any(|c| c.as_os_str() == "wasm32-wasip1")
                && let Ok(rel) = p.strip_prefix(root)
            {
                out.push(rel.to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(&suite.join("tests"), suite, &mut out);
    out.sort();
    out
}

/// Copies directory `from` to `to` recursively (files, directories, symlinks as links).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type()?;
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
            // The shared suite is read-only; the copy must be writable by the tests.
            let mut perm = std::fs::metadata(&dst)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dst, perm)?;
        }
    }
    let mut perm = std::fs::metadata(to)?.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(to, perm)
}

/// Removes `*.cleanup` files and directories under `dir` (what earlier runs left behind).
pub fn remove_cleanup(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        let is_cleanup = p.extension().is_some_and(|x| x == "cleanup");
        let ft = e.file_type()?;
        if is_cleanup {
            if ft.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        } else if ft.is_dir() {
            remove_cleanup(&p)?;
        }
    }
    Ok(())
}

/// One test's outcome.
#[derive(Debug)]
pub struct Outcome {
    /// Path relative to the suite.
    pub test: String,
    /// `Ok` if it passed, else why not.
    pub result: Result<(), String>,
    /// Wall time (compile and run).
    pub time: Duration,
}

/// What the tests are compiled for and how the artifacts run.
#[derive(Clone, Debug)]
pub struct Target {
    /// The compiler's configuration (target triple and CPU).
    pub config: precast_compiler::Config,
    /// The command that runs `precast-run` (the binary, after an emulator and its arguments
    /// when the target is another architecture).
    pub runner: Vec<std::ffi::OsString>,
}

impl Target {
    /// This machine, running the `precast-run` binary at `runner`.
    pub fn host(runner: &Path) -> Target {
        Target {
            config: precast_compiler::Config::default(),
            runner: vec![runner.as_os_str().to_owned()],
        }
    }
}

/// Runs one test. `work` is a scratch directory of its own.
pub fn run_test(suite: &Path, test: &Path, target: &Target, work: &Path) -> Result<(), String> {
    let wasm = suite.join(test);
    let json = wasm.with_extension("json");
    let json = std::fs::read_to_string(&json).ok();
    let spec = parse_spec(json.as_deref())?;
    if !spec.proposals.is_empty() {
        return Err(format!("needs proposals {:?}", spec.proposals));
    }
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;

    // The test's directory tree is copied, so that the tests can write into it and the
    // shared suite stays as it is; then leftovers are removed, as the spec asks.
    let test_dir = wasm.parent().unwrap_or(suite);
    let root = match &spec.root {
        Some(r) => {
            let copy = work.join(r);
            copy_tree(&test_dir.join(r), &copy)
                .map_err(|e| format!("cannot copy root {r}: {e}"))?;
            remove_cleanup(&copy).map_err(|e| format!("cannot remove *.cleanup: {e}"))?;
            Some(copy)
        }
        None => None,
    };

    let stem = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let artifact = work.join(format!("{stem}.wasm.pcst"));
    precast_compiler::compile_file(&wasm, &artifact, &target.config)
        .map_err(|e| format!("compile: {e}"))?;

    let (program, prefix) = target.runner.split_first().ok_or("no runner command")?;
    let mut cmd = Command::new(program);
    cmd.args(prefix)
        .arg(&artifact)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(root) = &root {
        cmd.arg("--dir").arg(format!("{}::/", root.display()));
    }
    for (k, v) in &spec.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--").args(&spec.args);
    let output = run_with_timeout(cmd, TIMEOUT)?;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    let mut problems = Vec::new();
    if code != Some(spec.exit_code) {
        problems.push(format!(
            "exit code {} (expected {})",
            code.map_or_else(|| format!("{:?}", output.status), |c| c.to_string()),
            spec.exit_code
        ));
    }
    if let Some(want) = &spec.stdout
        && stdout != want.as_str()
    {
        problems.push(format!("stdout {stdout:?} (expected {want:?})"));
    }
    if let Some(want) = &spec.stderr
        && stderr != want.as_str()
    {
        problems.push(format!("stderr {stderr:?} (expected {want:?})"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        if !stderr.is_empty() && spec.stderr.is_none() {
            // The panic message; the wasm backtrace after it is long.
            let head: Vec<&str> = stderr.trim().lines().take(4).collect();
            problems.push(format!("stderr:\n{}", head.join("\n")));
        }
        Err(problems.join("; "))
    }
}

fn run_with_timeout(mut cmd: Command, limit: Duration) -> Result<std::process::Output, String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    // Drain the pipes on threads so a chatty test cannot block on a full pipe.
    let read = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(child.stdout.take().map(|s| Box::new(s) as _));
    let err = read(child.stderr.take().map(|s| Box::new(s) as _));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {}s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    Ok(std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Runs the tests whose path contains one of `filters` (all when empty), in parallel.
pub fn run(suite: &Path, filters: &[String], target: &Target, work: &Path) -> Vec<Outcome> {
    let tests: Vec<PathBuf> = discover(suite)
        .into_iter()
        .filter(|t| {
            let s = t.to_string_lossy();
            filters.is_empty() || filters.iter().any(|f| s.contains(f.as_str()))
        })
        .collect();
    tests
        .par_iter()
        .enumerate()
        .map(|(i, t)| {
            let start = Instant::now();
            let result = run_test(suite, t, target, &work.join(i.to_string()));
            Outcome {
                test: t.to_string_lossy().into_owned(),
                result,
                time: start.elapsed(),
            }
        })
        .collect()
}

/// Where the WASI testsuite is.
pub fn suite_dir() -> Result<PathBuf, String> {
    crate::shared_suite("wasi-testsuite")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spec_formats() {
        let legacy = parse_spec(Some(
            r#"{"args": ["a", "b"], "env": {"K": "V"}, "root": "fs", "exit_code": 3, "stdout": "hi"}"#,
        ))
        .unwrap();
        assert_eq!(legacy.args, ["a", "b"]);
        assert_eq!(legacy.env, [("K".to_string(), "V".to_string())]);
        assert_eq!(legacy.root.as_deref(), Some("fs"));
        assert_eq!(legacy.exit_code, 3);
        assert_eq!(legacy.stdout.as_deref(), Some("hi"));
        assert_eq!(legacy.stderr, None);
        let ops = parse_spec(Some(
            r#"{"operations": [{"type": "run", "args": ["x"], "root": "d"},
                {"type": "read", "id": "stderr", "payload": "oops"},
                {"type": "wait", "exit_code": 1}]}"#,
        ))
        .unwrap();
        assert_eq!(ops.args, ["x"]);
        assert_eq!(ops.root.as_deref(), Some("d"));
        assert_eq!(ops.stderr.as_deref(), Some("oops"));
        assert_eq!(ops.exit_code, 1);
        assert_eq!(parse_spec(None).unwrap(), Spec::default());
        assert!(parse_spec(Some("{")).is_err());
    }
}
