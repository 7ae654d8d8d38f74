//! The embedded default: a private PostgreSQL cluster in Casebook's data
//! directory, run with the system's own `initdb` and `postgres` binaries.
//!
//! The server listens only on a unix socket inside the data directory. It is
//! started as a child in its own process group (so a Ctrl-C in the terminal
//! reaches Casebook, which then shuts it down in order) and, where asked, with
//! a parent-death signal so that a `kill -9` of Casebook cannot leave it
//! running. A server orphaned some other way is found through its
//! `postmaster.pid` and stopped on the next start.
//!
//! Everything here is blocking: it runs before the async runtime serves
//! anything, and in the test harness on its own thread.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, User};

/// The port number only names the socket file (`.s.PGSQL.5432`); nothing
/// listens on TCP.
const PORT: u16 = 5432;
/// Linux limits a unix socket path to 107 bytes.
const MAX_SOCKET_PATH: usize = 107;
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found in {searched}; install them \
         (Debian: apt-get install postgresql), point --pg-bin-dir at them, or set DATABASE_URL \
         to use an existing server"
    )]
    BinariesNotFound { searched: String },
    #[error(
        "casebook runs as root, so the embedded PostgreSQL must run as the unprivileged user \
         'postgres', which does not exist; create it (useradd --system postgres), run casebook \
         as a normal user, or set DATABASE_URL"
    )]
    NoServerUser,
    #[error(
        "the database server runs as user '{user}', which cannot reach {dir}; make that \
         directory searchable (chmod o+x {dir}) or choose a --data-dir elsewhere"
    )]
    Unreachable { user: String, dir: String },
    #[error(
        "the socket path {path} is {len} bytes, longer than the {MAX_SOCKET_PATH} a unix socket \
         allows; choose a shorter --data-dir"
    )]
    SocketPathTooLong { path: String, len: usize },
    #[error("could not prepare the database directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("initdb failed for {dir}: {output}")]
    InitdbFailed { dir: String, output: String },
    #[error("the database server did not start (see {log}): {detail}")]
    StartFailed { log: String, detail: String },
    #[error(
        "another casebook (pid {owner}) is already serving the data directory {dir}; stop it \
         or choose another --data-dir"
    )]
    InUse { owner: i32, dir: String },
    #[error("could not stop the database server (pid {pid}): {detail}")]
    StopFailed { pid: i32, detail: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where the pieces live inside Casebook's data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The PostgreSQL data directory (`PGDATA`).
    pub pgdata: PathBuf,
    /// The directory holding the server's unix socket.
    pub socket_dir: PathBuf,
    /// The server's own log.
    pub log_file: PathBuf,
}

impl Layout {
    pub fn in_data_dir(data_dir: &Path) -> Self {
        // The server changes into its data directory at start-up, so a
        // relative socket directory would point somewhere else.
        let data_dir = &std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        Self {
            pgdata: data_dir.join("postgres"),
            socket_dir: data_dir.join("run"),
            log_file: data_dir.join("postgres.log"),
        }
    }

    /// A connection string for `dbname` over the socket (libpq key/value form,
    /// which tokio-postgres understands).
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user=postgres dbname={dbname}",
            self.socket_dir.display()
        )
    }

    /// The pid recorded in `postmaster.pid`, if the file exists.
    pub fn recorded_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub layout: Layout,
    /// Look only here for `initdb` and `postgres`; otherwise PATH, then
    /// `/usr/lib/postgresql/*/bin`, newest version first.
    pub bin_dir: Option<PathBuf>,
    /// Signal the server receives when the thread that started it dies.
    /// `SIGINT` asks for a fast shutdown; the test harness uses `SIGQUIT`.
    pub on_parent_death: Option<Signal>,
    /// `initdb --no-sync`: only for throwaway clusters.
    pub throwaway: bool,
    /// When another casebook is running this cluster, use its server
    /// (for one-off commands such as `migrate` and `user add`) instead of
    /// refusing.
    pub share_running: bool,
}

/// A running cluster owned by this process. Dropping it stops the server.
#[derive(Debug)]
pub struct Cluster {
    layout: Layout,
    child: Option<Child>,
}

impl Cluster {
    /// Initialises the cluster on first use, clears what an earlier run left
    /// behind (a stale pid file, an orphaned server), starts the server and
    /// waits until it accepts connections.
    pub fn start(options: &Options) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir(options.bin_dir.as_deref())?;
        let layout = &options.layout;
        let socket = layout.socket_dir.join(format!(".s.PGSQL.{PORT}"));
        let socket_len = socket.as_os_str().len();
        if socket_len > MAX_SOCKET_PATH {
            return Err(ClusterError::SocketPathTooLong {
                path: socket.display().to_string(),
                len: socket_len,
            });
        }
        let user = server_user()?;
        for dir in [&layout.pgdata, &layout.socket_dir] {
            create_private_dir(dir, user.as_ref())?;
        }
        if let Some(user) = &user {
            check_reachable(&layout.pgdata, user)?;
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&layout.log_file)
            .map_err(io_err(&layout.log_file))?;

        if !layout.pgdata.join("PG_VERSION").exists() {
            initdb(&bin_dir, layout, user.as_ref(), options.throwaway)?;
        }
        match clear_leftovers(layout) {
            Err(ClusterError::InUse { .. }) if options.share_running => {
                tracing::info!("using the database server of the casebook already running here");
                return Ok(Cluster {
                    layout: layout.clone(),
                    child: None,
                });
            }
            other => other?,
        }

        // After a kill of the whole process group the old postmaster can
        // linger as a zombie for a moment: it no longer runs, but its pid
        // still exists, so PostgreSQL's own socket-lock check refuses to
        // start. Try again until that check passes.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match Self::spawn_server(&bin_dir, layout, user.as_ref(), options, &log) {
                Err(ClusterError::StartFailed { detail, .. })
                    if detail.contains("lock file") && Instant::now() < deadline =>
                {
                    tracing::warn!("the database server's lock is still held ({detail}); retrying");
                    std::thread::sleep(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    fn spawn_server(
        bin_dir: &Path,
        layout: &Layout,
        user: Option<&User>,
        options: &Options,
        log: &fs::File,
    ) -> Result<Self, ClusterError> {
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut command = Command::new(bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&layout.pgdata)
            .arg("-k")
            .arg(&layout.socket_dir)
            .args(["-p", &PORT.to_string(), "-c", "listen_addresses="])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err(&layout.log_file))?)
            .stderr(log.try_clone().map_err(io_err(&layout.log_file))?)
            .process_group(0);
        drop_privileges_and_watch_parent(&mut command, user, options.on_parent_death);
        let child = command.spawn().map_err(|e| ClusterError::StartFailed {
            log: layout.log_file.display().to_string(),
            detail: e.to_string(),
        })?;
        let mut cluster = Cluster {
            layout: layout.clone(),
            child: Some(child),
        };
        cluster.wait_ready(log_start)?;
        tracing::info!(pgdata = %layout.pgdata.display(), "embedded PostgreSQL is ready");
        Ok(cluster)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn wait_ready(&mut self, log_start: u64) -> Result<(), ClusterError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pid_file = self.layout.pgdata.join("postmaster.pid");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(ClusterError::StartFailed {
                    log: self.layout.log_file.display().to_string(),
                    detail: format!(
                        "it exited ({status}): {}",
                        log_tail(&self.layout.log_file, log_start)
                    ),
                });
            }
            // Line 8 of postmaster.pid reads "ready" once connections are accepted.
            if let Ok(text) = fs::read_to_string(&pid_file)
                && text.lines().nth(7).map(str::trim) == Some("ready")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::StartFailed {
                    log: self.layout.log_file.display().to_string(),
                    detail: format!("not ready after {}s", START_TIMEOUT.as_secs()),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Fast shutdown: open transactions are rolled back, committed data is on
    /// disk. Waits for the server to exit.
    pub fn stop(mut self) -> Result<(), ClusterError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ClusterError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = Pid::from_raw(child.id() as i32);
        let failed = |detail: String| ClusterError::StopFailed {
            pid: pid.as_raw(),
            detail,
        };
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        kill(pid, Signal::SIGINT).map_err(|e| failed(e.to_string()))?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => {
                    tracing::info!("embedded PostgreSQL stopped");
                    return Ok(());
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Ok(None) => {
                    // Immediate shutdown: crash recovery on the next start,
                    // still nothing committed is lost.
                    let _ = kill(pid, Signal::SIGQUIT);
                    child.wait().map_err(|e| failed(e.to_string()))?;
                    return Err(failed(format!(
                        "no fast shutdown within {}s; sent SIGQUIT",
                        STOP_TIMEOUT.as_secs()
                    )));
                }
                Err(e) => return Err(failed(e.to_string())),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            tracing::error!("{e}");
        }
    }
}

/// Finds a directory holding both `initdb` and `postgres`.
pub fn find_bin_dir(explicit: Option<&Path>) -> Result<PathBuf, ClusterError> {
    let has_both =
        |dir: &Path| is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"));
    let mut searched = Vec::new();
    if let Some(dir) = explicit {
        if has_both(dir) {
            return Ok(dir.to_path_buf());
        }
        return Err(ClusterError::BinariesNotFound {
            searched: dir.display().to_string(),
        });
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_both(&dir) {
                return Ok(dir);
            }
        }
        searched.push("PATH".to_owned());
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    searched.push("/usr/lib/postgresql/*/bin".to_owned());
    versions
        .into_iter()
        .map(|(_, dir)| dir)
        .find(|dir| has_both(dir))
        .ok_or(ClusterError::BinariesNotFound {
            searched: searched.join(" and "),
        })
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// PostgreSQL refuses to run as root; as root we run it as `postgres`.
fn server_user() -> Result<Option<User>, ClusterError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some(user)),
        _ => Err(ClusterError::NoServerUser),
    }
}

fn create_private_dir(dir: &Path, user: Option<&User>) -> Result<(), ClusterError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
    if let Some(user) = user {
        nix::unistd::chown(dir, Some(user.uid), Some(user.gid))
            .map_err(|e| io_err(dir)(e.into()))?;
        // The server must be able to pass through Casebook's own data
        // directory; searching is enough, listing is not needed.
        if let Some(parent) = dir.parent() {
            let meta = fs::metadata(parent).map_err(io_err(parent))?;
            if meta.uid() == 0 && meta.mode() & 0o001 == 0 {
                let mode = (meta.mode() & 0o7777) | 0o011;
                fs::set_permissions(parent, fs::Permissions::from_mode(mode))
                    .map_err(io_err(parent))?;
            }
        }
    }
    Ok(())
}

/// Every ancestor of `dir` must be searchable by the server's user.
fn check_reachable(dir: &Path, user: &User) -> Result<(), ClusterError> {
    let absolute = fs::canonicalize(dir).map_err(io_err(dir))?;
    for ancestor in absolute.ancestors().skip(1) {
        let meta = fs::metadata(ancestor).map_err(io_err(ancestor))?;
        let bit = if meta.uid() == user.uid.as_raw() {
            0o100
        } else if meta.gid() == user.gid.as_raw() {
            0o010
        } else {
            0o001
        };
        if meta.mode() & bit == 0 {
            return Err(ClusterError::Unreachable {
                user: user.name.clone(),
                dir: ancestor.display().to_string(),
            });
        }
    }
    Ok(())
}

fn initdb(
    bin_dir: &Path,
    layout: &Layout,
    user: Option<&User>,
    throwaway: bool,
) -> Result<(), ClusterError> {
    tracing::info!(pgdata = %layout.pgdata.display(), "creating the embedded PostgreSQL cluster");
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .arg("-D")
        .arg(&layout.pgdata)
        .args([
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ])
        .stdin(Stdio::null());
    if throwaway {
        command.arg("--no-sync");
    }
    drop_privileges_and_watch_parent(&mut command, user, None);
    let output = command.output().map_err(|e| ClusterError::InitdbFailed {
        dir: layout.pgdata.display().to_string(),
        output: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(ClusterError::InitdbFailed {
        dir: layout.pgdata.display().to_string(),
        output: text.trim().replace('\n', " | "),
    })
}

/// Handles what a killed earlier run left: a server still running on this
/// data directory is shut down; a pid file naming anything else is removed.
fn clear_leftovers(layout: &Layout) -> Result<(), ClusterError> {
    let Some(raw) = layout.recorded_pid() else {
        return Ok(());
    };
    let pid = Pid::from_raw(raw);
    if is_our_server(pid, &layout.pgdata) {
        if let Some(owner) = running_casebook_parent(pid) {
            return Err(ClusterError::InUse {
                owner: owner.as_raw(),
                dir: layout
                    .pgdata
                    .parent()
                    .unwrap_or(&layout.pgdata)
                    .display()
                    .to_string(),
            });
        }
        tracing::warn!(
            pid = raw,
            "stopping a database server left running by an earlier casebook"
        );
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while is_alive(pid) {
            if Instant::now() > deadline {
                let _ = kill(pid, Signal::SIGQUIT);
                std::thread::sleep(Duration::from_millis(500));
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        if is_alive(pid) {
            return Err(ClusterError::StopFailed {
                pid: raw,
                detail: "an earlier server on this data directory would not stop".to_owned(),
            });
        }
    }
    let pid_file = layout.pgdata.join("postmaster.pid");
    if pid_file.exists() {
        tracing::warn!(pid = raw, "removing a stale postmaster.pid");
        fs::remove_file(&pid_file).map_err(io_err(&pid_file))?;
    }
    Ok(())
}

/// A process that exists and is not a zombie.
pub fn is_alive(pid: Pid) -> bool {
    if kill(pid, None).is_err() {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The postmaster runs with its working directory in the data directory; a
/// recycled pid belonging to anything else fails this test.
fn is_our_server(pid: Pid, pgdata: &Path) -> bool {
    if !is_alive(pid) {
        return false;
    }
    let cwd = fs::read_link(format!("/proc/{pid}/cwd"));
    let ours = fs::canonicalize(pgdata);
    matches!((cwd, ours), (Ok(a), Ok(b)) if a == b)
}

/// The casebook process a server belongs to, if its parent is one: such a
/// server is in use, not orphaned.
fn running_casebook_parent(pid: Pid) -> Option<Pid> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ppid: i32 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let parent = Pid::from_raw(ppid);
    let exe = fs::read_link(format!("/proc/{ppid}/exe")).ok()?;
    let name = exe.file_name()?.to_str()?;
    (is_alive(parent) && name.starts_with("casebook")).then_some(parent)
}

#[expect(
    unsafe_code,
    reason = "pre_exec is the only way to set the parent-death signal of a child; the closure only makes async-signal-safe system calls"
)]
fn drop_privileges_and_watch_parent(
    command: &mut Command,
    user: Option<&User>,
    on_parent_death: Option<Signal>,
) {
    let ids: Option<(Uid, Gid)> = user.map(|u| (u.uid, u.gid));
    let parent = nix::unistd::getpid();
    // SAFETY: between fork and exec the closure calls only setgroups,
    // setgid, setuid, prctl and getppid, all async-signal-safe, and
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = ids {
                nix::unistd::setgroups(&[gid])?;
                nix::unistd::setgid(gid)?;
                nix::unistd::setuid(uid)?;
            }
            if let Some(signal) = on_parent_death {
                nix::sys::prctl::set_pdeathsig(signal)?;
                // The parent may have died before the signal was armed.
                if nix::unistd::getppid() != parent {
                    return Err(io::Error::other("casebook exited during start-up"));
                }
            }
            Ok(())
        });
    }
}

/// The last lines the server wrote since `from`, for an error message.
fn log_tail(path: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(path)
        && file.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
