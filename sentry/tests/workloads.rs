//! Real programs under the sentry versus natively: the exit code and stdout must match.
//!
//! Each run gets its own fresh workspace as its cwd (the default policy grants it read-write). Workspace paths are
//! normalised to `$WS` before comparing; pids, hostnames, timings and hashes are never printed by the scripts, so
//! everything compared is something that must be the same.

mod common;

use common::{assert_same_as_native, have, run_native, run_sandboxed, TempDir};

/// Skips (with a printed reason) when a tool the test needs is not installed.
fn require(tools: &[&str]) -> bool {
    for t in tools {
        if !have(t) {
            eprintln!("skipped: {t} is not installed on this host");
            return false;
        }
    }
    true
}

#[test]
fn bash_pipelines_subshells_match_native() {
    if !require(&["bash"]) {
        return;
    }
    let script = "echo a | tr a b; (cd /tmp && pwd); x=$(echo sub); echo $x; \
                  for i in 1 2 3; do echo $i; done | sort -r; \
                  { echo grouped; echo twice; } | wc -l; \
                  f() { return 4; }; f; echo \"func=$?\"; \
                  echo data > file.txt; while read -r l; do echo \"read:$l\"; done < file.txt; \
                  cat <<EOF\nheredoc $x\nEOF\n\
                  (exit 3); echo \"subshell=$?\"; \
                  echo \"$(pwd | sed 's|.*/||' | cut -c1-14)\"";
    let (_, sandboxed, _, _) = assert_same_as_native("bash", &["bash", "-c", script], |_| {});
    assert!(
        sandboxed.stdout.starts_with("b\n/tmp\nsub\n3\n2\n1\n"),
        "unexpected output:\n{sandboxed}"
    );
}

const PYTHON_WORKLOAD: &str = r#"
import json, os, sqlite3, subprocess, sys, threading

# Threads: CPU work and concurrent file creation (many mediated opens at once).
results = [0] * 8
def work(i):
    results[i] = sum(range(i * 1000))
    with open(f"thread{i}.txt", "w") as f:
        f.write(f"thread {i}\n" * 100)
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("threads", results)
print("thread files", sorted(os.path.getsize(f"thread{i}.txt") for i in range(8)))

# Subprocess: a shell with an exit code, and a child interpreter.
out = subprocess.run(["sh", "-c", "echo from child; exit 3"], capture_output=True, text=True)
print("subprocess", repr(out.stdout), out.returncode)
out = subprocess.run([sys.executable, "-c", "import sys; print(sys.version_info[0])"],
                     capture_output=True, text=True, check=True)
print("python child", out.stdout.strip())
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print("pipe", p.communicate(b"through a pipe")[0].decode(), p.returncode)

# JSON.
data = {"a": [1, 2, {"b": None}], "c": "\u00fc", "d": 1.5}
s = json.dumps(data, sort_keys=True)
assert json.loads(s) == data
print("json", s)
with open("data.json", "w") as f: json.dump(data, f)
with open("data.json") as f: print("json file", json.load(f) == data)

# sqlite3 on a file in the workspace, rollback journal then WAL (which mmaps the -shm file).
db = sqlite3.connect("test.db")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t (v) values (?)", [(f"row{i:03}",) for i in range(100)])
db.commit()
db.close()
db = sqlite3.connect("test.db")
print("sqlite", db.execute("select count(*), min(v), max(v) from t").fetchone())
print("journal", db.execute("pragma journal_mode=wal").fetchone())
db.execute("insert into t (v) values ('wal')")
db.commit()
print("sqlite wal", db.execute("select count(*) from t").fetchone())
db.close()
print("db files", sorted(f for f in os.listdir(".") if f.startswith("test.db")))
print("integrity", sqlite3.connect("test.db").execute("pragma integrity_check").fetchone())
"#;

#[test]
fn python3_threads_subprocess_json_sqlite_match_native() {
    if !require(&["python3"]) {
        return;
    }
    let (_, sandboxed, _, sandbox_ws) =
        assert_same_as_native("python", &["python3", "work.py"], |ws| {
            ws.write("work.py", PYTHON_WORKLOAD);
        });
    assert!(
        sandboxed.stdout.contains("integrity ('ok',)"),
        "unexpected output:\n{sandboxed}"
    );
    // The database really landed in the workspace on the host.
    let db = std::fs::metadata(sandbox_ws.join("test.db")).expect("test.db on the host");
    assert!(db.len() > 0);
}

const C_MAIN: &str = r#"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) printf("arg%d=%s\n", i, argv[i]);
    printf("sqrt2=%.6f\n", sqrt(2.0));
    printf("fib30=%ld\n", fib(30));
    char *buf = malloc(1 << 20);
    memset(buf, 'x', 1 << 20);
    FILE *f = fopen("out.bin", "wb");
    if (!f) { perror("fopen"); return 1; }
    fwrite(buf, 1, 1 << 20, f);
    fclose(f);
    free(buf);
    f = fopen("out.bin", "rb");
    fseek(f, 0, SEEK_END);
    printf("size=%ld\n", ftell(f));
    fclose(f);
    return 3;
}
"#;

const C_UTIL: &str = r#"
#include "util.h"
long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
"#;

#[test]
fn gcc_compile_and_run_matches_native() {
    if !require(&["gcc"]) {
        return;
    }
    let script = "set -e; gcc -O2 -Wall -c util.c -o util.o; gcc -O2 -Wall -c main.c -o main.o; \
                  gcc -o prog main.o util.o -lm; ls *.o prog; set +e; ./prog one 'two words'; echo \"rc=$?\"";
    let (_, sandboxed, _, sandbox_ws) = assert_same_as_native("gcc", &["sh", "-c", script], |ws| {
        ws.write("main.c", C_MAIN);
        ws.write("util.c", C_UTIL);
        ws.write("util.h", "long fib(int n);\n");
    });
    assert!(
        sandboxed
            .stdout
            .contains("arg2=two words\nsqrt2=1.414214\nfib30=832040\nsize=1048576\nrc=3"),
        "unexpected output:\n{sandboxed}"
    );
    assert!(
        sandbox_ws.join("prog").is_file(),
        "prog not built on the host"
    );
}

const GIT_SCRIPT: &str = "set -e
G='git -c user.name=t -c user.email=t@t -c init.defaultBranch=main -c advice.detachedHead=false'
$G init -q .
echo one > a.txt; mkdir d; echo two > d/b.txt
$G add -A
$G commit -q -m first
echo three >> a.txt; echo new > c.txt
echo '--- status 1'; $G status --porcelain
$G commit -q -am second
echo '--- log'; $G log --format=%s
echo '--- status 2'; $G status --porcelain
echo '--- files'; $G ls-files
echo '--- show'; $G show HEAD:a.txt
echo '--- branch'; $G checkout -q -b feature; echo feat > f.txt; $G add f.txt; $G commit -q -m third
$G checkout -q main; $G merge -q --no-edit feature; $G log --format=%s
echo '--- fsck'; $G fsck --no-progress 2>&1 | grep -v '^Checking' || true
";

#[test]
fn git_init_add_commit_matches_native() {
    if !require(&["git"]) {
        return;
    }
    let (_, sandboxed, _, _) = assert_same_as_native("git", &["sh", "-c", GIT_SCRIPT], |_| {});
    assert!(
        sandboxed
            .stdout
            .contains("--- log\nsecond\nfirst\n--- status 2\n?? c.txt\n"),
        "unexpected output:\n{sandboxed}"
    );
}

const TAR_SCRIPT: &str = "set -e
mkdir -p tree/sub/deeper
echo alpha > tree/a.txt
seq 1 5000 > tree/sub/b.txt
echo gamma > tree/sub/deeper/c.txt
ln -s a.txt tree/link
tar -czf t.tgz tree
echo '--- list'; tar -tzf t.tgz | sort
mkdir out; tar -xzf t.tgz -C out
diff -r tree out/tree && echo '--- same'
cat out/tree/a.txt out/tree/sub/deeper/c.txt; wc -l < out/tree/sub/b.txt; readlink out/tree/link
gzip -k tree/a.txt; gzip -t tree/a.txt.gz; gunzip -c tree/a.txt.gz; ls tree
gzip -9 < tree/sub/b.txt | gzip -dc | cksum
cksum < tree/sub/b.txt
";

#[test]
fn tar_gzip_round_trip_matches_native() {
    if !require(&["tar", "gzip"]) {
        return;
    }
    let (_, sandboxed, native_ws, sandbox_ws) =
        assert_same_as_native("tar", &["sh", "-c", TAR_SCRIPT], |_| {});
    assert!(
        sandboxed
            .stdout
            .contains("--- same\nalpha\ngamma\n5000\na.txt\n"),
        "unexpected output:\n{sandboxed}"
    );
    // The extracted tree on the host is identical to the native one.
    for f in [
        "out/tree/a.txt",
        "out/tree/sub/b.txt",
        "out/tree/sub/deeper/c.txt",
    ] {
        let n = std::fs::read(native_ws.join(f)).expect("native file");
        let s = std::fs::read(sandbox_ws.join(f)).expect("sandboxed file on the host");
        assert_eq!(n, s, "{f} differs");
    }
    let link = std::fs::read_link(sandbox_ws.join("out/tree/link")).expect("symlink on the host");
    assert_eq!(link, std::path::PathBuf::from("a.txt"));
}

const MAKEFILE: &str = "all: all.txt prog.txt

prog.txt: prog
\t./prog > prog.txt

all.txt: a.out b.out c.out d.out
\tcat a.out b.out c.out d.out > all.txt

%.out: %.in
\ttr a-z A-Z < $< > $@

prog: prog.c
\t$(CC) -o $@ $<

clean:
\trm -f *.out all.txt prog prog.txt
.PHONY: all clean
";

#[test]
fn make_parallel_targets_match_native() {
    if !require(&["make", "gcc"]) {
        return;
    }
    let script = "set -e; make -s -j2; cat all.txt prog.txt; \
                  make -q all.txt prog.txt && echo up-to-date; \
                  sleep 1; echo again > b.in; make -s -j2; cat all.txt; \
                  make -s clean; ls";
    let (_, sandboxed, _, _) = assert_same_as_native("make", &["sh", "-c", script], |ws| {
        ws.write("Makefile", MAKEFILE);
        for (n, t) in [
            ("a", "alpha"),
            ("b", "bravo"),
            ("c", "charlie"),
            ("d", "delta"),
        ] {
            ws.write(&format!("{n}.in"), &format!("{t}\n"));
        }
        ws.write(
            "prog.c",
            "#include <stdio.h>\nint main(void) { puts(\"built by make\"); return 0; }\n",
        );
    });
    assert!(
        sandboxed
            .stdout
            .starts_with("ALPHA\nBRAVO\nCHARLIE\nDELTA\nbuilt by make\nup-to-date\nALPHA\nAGAIN\n"),
        "unexpected output:\n{sandboxed}"
    );
}

#[test]
fn exit_code_explicit_seven_propagated() {
    let ws = TempDir::new("exit7");
    let native = run_native(&["sh", "-c", "exit 7"], ws.path());
    let sandboxed = run_sandboxed(&[], &["sh", "-c", "exit 7"], ws.path());
    assert_eq!(native.code, 7, "native:\n{native}");
    assert_eq!(sandboxed.code, 7, "sandboxed:\n{sandboxed}");
}

#[test]
fn exit_code_sigkill_self_reports_137() {
    let ws = TempDir::new("kill9");
    let cmd = ["sh", "-c", "kill -9 $$"];
    let native = run_native(&cmd, ws.path());
    let sandboxed = run_sandboxed(&[], &cmd, ws.path());
    assert_eq!(native.code, 137, "native:\n{native}");
    assert_eq!(sandboxed.code, 137, "sandboxed:\n{sandboxed}");
}

#[test]
fn exit_code_sigterm_child_of_shell_reports_143() {
    let ws = TempDir::new("term");
    let cmd = [
        "sh",
        "-c",
        "sh -c 'kill -TERM $$'; echo \"child=$?\"; exit 5",
    ];
    let native = run_native(&cmd, ws.path());
    let sandboxed = run_sandboxed(&[], &cmd, ws.path());
    assert_eq!(
        (native.code, native.stdout.as_str()),
        (5, "child=143\n"),
        "native:\n{native}"
    );
    assert_eq!(
        (sandboxed.code, sandboxed.stdout.as_str()),
        (5, "child=143\n"),
        "sandboxed:\n{sandboxed}"
    );
}

#[test]
fn echo_binary_hello_printed() {
    let ws = TempDir::new("echo");
    let out = run_sandboxed(&[], &["/bin/echo", "hello"], ws.path());
    assert_eq!((out.code, out.stdout.as_str()), (0, "hello\n"), "{out}");
}

#[test]
fn python3_openpty_matches_native() {
    if !require(&["python3"]) {
        return;
    }
    // A pty pair is how `script`, expect-style tools and many agent shells drive programs.
    let script = "import os, sys\n\
                  m, s = os.openpty()\n\
                  print('isatty', os.isatty(s))\n\
                  os.write(s, b'hi\\n')\n\
                  got = b''\n\
                  while not got.endswith(b'\\n'):\n    got += os.read(m, 100)\n\
                  print(got)\n";
    // (The master may return the echo in pieces, natively too: read up to the end of the line.)
    assert_same_as_native("openpty", &["python3", "-c", script], |_| {});
}

#[test]
fn python3_open_o_path_matches_native() {
    if !require(&["python3"]) {
        return;
    }
    // O_PATH opens are what tar, coreutils and glibc's fchmodat fallback use; tar -x does exactly this sequence.
    let script = "import os\n\
                  os.mkdir('d')\n\
                  open('f', 'w').close()\n\
                  dfd = os.open('.', os.O_RDONLY | os.O_DIRECTORY)\n\
                  for name in ['d', 'f']:\n\
                  \x20   fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)\n\
                  \x20   print(name, os.path.basename(os.readlink(f'/proc/self/fd/{fd}')))\n\
                  \x20   os.chmod(f'/proc/self/fd/{fd}', 0o751)\n\
                  \x20   print(name, oct(os.stat(name).st_mode & 0o777))\n\
                  \x20   os.close(fd)\n";
    assert_same_as_native("opath", &["python3", "-u", "-c", script], |_| {});
}
