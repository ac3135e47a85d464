//! Files that hold patient data: written whole or not at all, readable only by their owner
//! unless the file they replace was readable by more, and guarded against two writers.
//!
//! Every file carematch writes (pairs, clusters, person-id changes, models, encoded files,
//! index files, synthetic data) goes through [`NewFile`]:
//!
//! - it is written to a temporary file beside the target (`.NAME.tmp-PID-N`), created with
//!   mode 0600 and never through an existing path, then synced and renamed over the target,
//!   so the target holds the old contents or the new ones whole, never a part;
//! - a target that already exists keeps its permission bits (and, where the process may set
//!   them, its owner and group); a target that is a symbolic link is written through: the
//!   file it points to is replaced and the link stays;
//! - several outputs of one run are committed together ([`commit_all`]) after the whole run
//!   has succeeded, so a run that fails leaves every earlier file untouched;
//! - a temporary file left by a killed process is removed by the next write of the same
//!   target (when its process is gone) or by the next holder of the target's [`FileLock`].
//!
//! The path `-` is standard output: what is written is held in memory and written out on
//! commit, so there too a run that fails writes nothing.
//!
//! A [`FileLock`] is an advisory lock on `PATH.lock` held for a read-modify-write of `PATH`
//! (an index that `index add` loads, extends and saves): a second writer waits for it or is
//! refused with a message naming the holder, and never loses an update.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::error::ErrorKind;

/// The mode of every file carematch creates (where the platform has modes): the owner may
/// read and write it, nobody else may read it.
pub const NEW_FILE_MODE: u32 = 0o600;

/// A file being written: a temporary file beside the target, renamed over the target by
/// [`NewFile::commit`] (or [`commit_all`]), removed if dropped uncommitted.
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), carematch::Error> {
/// use std::io::Write;
/// let dir = std::env::temp_dir().join(format!("carematch-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("out.csv");
/// let mut f = carematch::files::NewFile::create(&path)?;
/// f.write_all(b"left_id,right_id\n").unwrap();
/// assert!(!path.exists()); // nothing at the target until the commit
/// f.commit()?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"left_id,right_id\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok(()) }
/// ```
pub struct NewFile {
    /// The path the caller named (for messages).
    shown: PathBuf,
    /// Where the file lands: the caller's path, or the file a symbolic link points to.
    target: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    /// For `-`: the bytes for standard output, written on commit.
    stdout: Option<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for NewFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFile")
            .field("path", &self.shown)
            .finish_non_exhaustive()
    }
}

impl NewFile {
    /// Starts writing `path`: a new temporary file (mode 0600, or the mode of the file at
    /// `path` when there is one) beside it, or beside the file it links to.
    ///
    /// # Errors
    ///
    /// An I/O error naming `path` when the directory cannot be written, or `path` is a
    /// directory or a symbolic link to a missing file.
    pub fn create(path: &Path) -> Result<NewFile, Error> {
        if path.as_os_str() == "-" {
            return Ok(NewFile {
                shown: path.to_path_buf(),
                target: path.to_path_buf(),
                tmp: PathBuf::new(),
                file: None,
                stdout: Some(Vec::new()),
                done: false,
            });
        }
        let target = resolve(path)?;
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            return Err(Error::new(
                ErrorKind::Io,
                format!("{}: cannot write: not a regular file", path.display()),
            ));
        }
        remove_stale_temps(&target, false);
        let (tmp, file) = create_temp(&target).map_err(|e| Error::io(path, "write", &e))?;
        let mut f = NewFile {
            shown: path.to_path_buf(),
            target,
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            stdout: None,
            done: false,
        };
        if let Some(m) = existing {
            f.keep_mode_of(&m)
                .map_err(|e| Error::io(path, "write", &e))?;
        }
        Ok(f)
    }

    /// A new file at `path` holding `bytes`, ready to commit.
    ///
    /// # Errors
    ///
    /// As [`NewFile::create`]; an I/O error naming `path` when the bytes cannot be written.
    pub fn with_contents(path: &Path, bytes: &[u8]) -> Result<NewFile, Error> {
        let mut f = NewFile::create(path)?;
        f.write_all(bytes)
            .map_err(|e| Error::io(path, "write", &e))?;
        Ok(f)
    }

    /// The path the file will be written to, as the caller named it.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Gives the temporary file the permissions (and, best effort, owner) of the file it
    /// will replace.
    fn keep_mode_of(&mut self, m: &std::fs::Metadata) -> std::io::Result<()> {
        std::fs::set_permissions(&self.tmp, m.permissions())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(now) = std::fs::metadata(&self.tmp)
                && (now.uid() != m.uid() || now.gid() != m.gid())
            {
                // Only a privileged process may give a file away; others keep their own.
                let _ = std::os::unix::fs::chown(&self.tmp, Some(m.uid()), Some(m.gid()));
            }
        }
        Ok(())
    }

    /// Flushes and syncs the temporary file, ready to be renamed.
    fn finish(&mut self) -> Result<(), Error> {
        if let Some(mut w) = self.file.take() {
            w.flush()
                .and_then(|()| w.get_ref().sync_all())
                .map_err(|e| Error::io(&self.shown, "write", &e))?;
        }
        Ok(())
    }

    fn rename(&mut self) -> Result<(), Error> {
        if let Some(bytes) = self.stdout.take() {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Error::io(&self.shown, "write", &e))?;
            self.done = true;
            return Ok(());
        }
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| Error::io(&self.shown, "write", &e))?;
        self.done = true;
        // Make the rename itself durable (best effort: not every platform can).
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Flushes and syncs the file now, so that the wait overlaps other work; [`commit`]
    /// then only renames it.
    ///
    /// # Errors
    ///
    /// An I/O error naming the file when it cannot be written.
    ///
    /// [`commit`]: NewFile::commit
    pub fn sync(&mut self) -> Result<(), Error> {
        self.finish()
    }

    /// Syncs the file and renames it over the target.
    ///
    /// # Errors
    ///
    /// An I/O error naming the file when it cannot be written or renamed; the target is then
    /// unchanged and the temporary file removed.
    pub fn commit(mut self) -> Result<(), Error> {
        self.finish()?;
        self.rename()
    }

    /// Overwrites the first `bytes.len()` bytes written (a header whose length and checksum
    /// are known only once the rest is written); later writes go on at the end.
    pub(crate) fn overwrite_start(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        match (&mut self.file, &mut self.stdout) {
            (Some(w), _) => {
                w.flush()?;
                let f = w.get_mut();
                f.seek(SeekFrom::Start(0))?;
                f.write_all(bytes)?;
                f.seek(SeekFrom::End(0)).map(drop)
            }
            (None, Some(v)) if v.len() >= bytes.len() => {
                v[..bytes.len()].copy_from_slice(bytes);
                Ok(())
            }
            _ => Err(std::io::Error::other("the file was already finished")),
        }
    }
}

impl Write for NewFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match (&mut self.file, &mut self.stdout) {
            (Some(w), _) => w.write_all(buf),
            (None, Some(v)) => {
                v.extend_from_slice(buf);
                Ok(())
            }
            (None, None) => Err(std::io::Error::other("the file was already finished")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.done && self.stdout.is_none() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Commits several files written by one run: all are synced first, then renamed, so that a
/// failure while writing any of them leaves every target untouched.
///
/// # Errors
///
/// The first I/O error, naming its file.
pub fn commit_all(files: Vec<NewFile>) -> Result<(), Error> {
    let mut files = files;
    for f in &mut files {
        f.finish()?;
    }
    for f in &mut files {
        f.rename()?;
    }
    Ok(())
}

/// Where writing `path` lands: `path` itself, or for a symbolic link the file it points to
/// (so the link is kept and written through).
fn resolve(path: &Path) -> Result<PathBuf, Error> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|_| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "{}: cannot write: a symbolic link to a missing file",
                    path.display()
                ),
            )
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// The file name of `target`, for its temporary and lock files.
fn base_name(target: &Path) -> String {
    target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned())
}

/// The prefix of `target`'s temporary files: `.NAME.tmp-`.
fn temp_prefix(target: &Path) -> String {
    format!(".{}.tmp-", base_name(target))
}

/// Creates a new temporary file beside `target`, mode 0600, never through an existing path.
fn create_temp(target: &Path) -> std::io::Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let prefix = temp_prefix(target);
    loop {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tmp = target.with_file_name(format!("{prefix}{}-{n}", std::process::id()));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(NEW_FILE_MODE);
        }
        match o.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// Removes temporary files of `target` left behind by processes that are gone (all of them
/// when `all`: the caller holds the target's lock, so no other process is writing it).
fn remove_stale_temps(target: &Path, all: bool) {
    let prefix = temp_prefix(target);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let me = std::process::id();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        // Ours: PID-N, both numbers.
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), true) = (
            pid.parse::<u32>(),
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        ) else {
            continue;
        };
        if pid != me && (all || process_gone(pid)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// True when process `pid` surely no longer runs (known only where /proc exists).
fn process_gone(pid: u32) -> bool {
    let proc = Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// An advisory lock on a file's read-modify-write, held until dropped: an exclusive lock on
/// `PATH.lock` beside the file, which names its holder (process id and command) inside.
///
/// Readers need no lock (a file is only ever replaced whole); writers that load, change and
/// save a file take it first, so that two of them cannot both start from the same contents
/// and lose one's changes.
pub struct FileLock {
    path: PathBuf,
    _file: File,
}

impl std::fmt::Debug for FileLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileLock")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileLock {
    /// Takes the lock of `path` (a file that may not exist yet). With `wait`, blocks until
    /// the holder releases it; without, a held lock is an error naming the holder. Taking
    /// it removes the temporary files of earlier writers of `path` that were killed.
    ///
    /// # Errors
    ///
    /// An I/O error naming the lock file when it cannot be created or locked; a usage error
    /// naming the holder when another process holds it and `wait` is false.
    pub fn acquire(path: &Path, wait: bool) -> Result<FileLock, Error> {
        let target = resolve(path)?;
        let lock_path = lock_path(&target);
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(NEW_FILE_MODE);
        }
        let file = o
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, "lock", &e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    holder.to_string()
                };
                if !wait {
                    return Err(Error::new(
                        ErrorKind::Usage,
                        format!(
                            "{}: in use by {who} (lock file {}); try again when it has finished, or pass --wait",
                            path.display(),
                            lock_path.display()
                        ),
                    ));
                }
                file.lock().map_err(|e| Error::io(&lock_path, "lock", &e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(&lock_path, "lock", &e));
            }
        }
        // Name the holder for whoever waits next (no patient data: a pid and a command).
        let mut f = &file;
        let _ = f.set_len(0);
        let _ = f.write_all(holder_text().as_bytes());
        let _ = f.flush();
        remove_stale_temps(&target, true);
        Ok(FileLock {
            path: path.to_path_buf(),
            _file: file,
        })
    }

    /// The locked file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes stale temporary files of `path` if no process holds its lock now (best
    /// effort: done by readers such as `Index::load`, which take no lock otherwise).
    pub fn tidy(path: &Path) {
        let Ok(target) = resolve(path) else { return };
        let Ok(file) = OpenOptions::new().write(true).open(lock_path(&target)) else {
            return remove_stale_temps(&target, false);
        };
        if file.try_lock().is_ok() {
            remove_stale_temps(&target, true);
        }
    }
}

fn lock_path(target: &Path) -> PathBuf {
    target.with_file_name(format!("{}.lock", base_name(target)))
}

/// `pid 123 (carematch index add)`.
fn holder_text() -> String {
    let args: Vec<String> = std::env::args()
        .take(3)
        .map(|a| {
            Path::new(&a)
                .file_name()
                .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    format!("pid {} ({})\n", std::process::id(), args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn nothing_lands_until_commit_and_a_dropped_file_leaves_no_trace() {
        let d = dir();
        let p = d.path().join("x.csv");
        std::fs::write(&p, b"old").unwrap();
        let mut f = NewFile::create(&p).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_0600_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir();
        let p = d.path().join("new.csv");
        NewFile::create(&p).unwrap().commit().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        NewFile::create(&p).unwrap().commit().unwrap();
        assert_eq!(mode(&p), 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through_not_replaced() {
        let d = dir();
        let real = d.path().join("real.idx");
        let link = d.path().join("link.idx");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut f = NewFile::create(&link).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_temp_file_of_a_dead_process_is_removed_by_the_next_write() {
        let d = dir();
        let p = d.path().join("pop.idx");
        // No process has this id (pid_max is at most 2^22 on Linux).
        let stale = d.path().join(".pop.idx.tmp-4294967-0");
        let unrelated = d.path().join(".pop.idx.tmp-notours");
        std::fs::write(&stale, b"patient data").unwrap();
        std::fs::write(&unrelated, b"x").unwrap();
        NewFile::create(&p).unwrap().commit().unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists());
        }
        assert!(unrelated.exists());
    }

    #[test]
    fn a_held_lock_is_refused_naming_its_holder() {
        let d = dir();
        let p = d.path().join("pop.idx");
        let held = FileLock::acquire(&p, false).unwrap();
        let e = FileLock::acquire(&p, false).unwrap_err();
        assert!(e.message().contains("in use by pid"), "{e}");
        assert!(e.message().contains(&std::process::id().to_string()), "{e}");
        drop(held);
        FileLock::acquire(&p, false).unwrap();
    }

    #[test]
    fn commit_all_stops_at_the_first_failure_and_leaves_the_rest_untouched() {
        let d = dir();
        let a = d.path().join("a.csv");
        std::fs::write(&a, b"old").unwrap();
        let mut fb = NewFile::create(&d.path().join("b.csv")).unwrap();
        fb.write_all(b"b").unwrap();
        let mut fa = NewFile::create(&a).unwrap();
        fa.write_all(b"new").unwrap();
        // b's temporary file vanishes before the commit, so b cannot be renamed.
        fb.file = None;
        std::fs::remove_file(&fb.tmp).unwrap();
        assert!(commit_all(vec![fb, fa]).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
