//! `file=PATH`: which files a plan may read, and reading them. The one place of the plan
//! language that touches the file system.
//!
//! Who wrote a plan decides what it may read. The operator's own plans (the command line,
//! routes files, the library) read any regular file. A plan a request chooses (its path, the
//! `X-Httpfault-Plan` header, `PUT /__httpfault/plan` or `/routes`) reads nothing, unless the
//! server was started with `--files DIR`: then files under DIR, and only those (`..` and
//! symbolic links are resolved before the check, so neither leads out). A client must never
//! make the server read a file of its choosing.
//!
//! A file is read whole when its plan is parsed (at start for the operator's plans), at most
//! [`MAX_FILE`] bytes, and its bytes are shared: every plan that names the same unchanged file
//! holds one copy (see [`Files`]'s cache), however many requests and journal entries use it.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

/// Largest file a `file=` body may be (it is held in memory).
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// Files remembered before dead ones are pruned.
const CACHE_PRUNE_AT: usize = 256;

/// A `file=PATH` body: the path as written and the bytes the file held when the plan was
/// parsed. Two are equal when they name the same path and hold the same bytes.
#[derive(Clone, Debug)]
pub struct FileBody {
    /// The path as written in the plan (percent-decoded).
    pub path: Box<[u8]>,
    /// The file's bytes, shared by every plan that read the same file.
    pub bytes: Arc<[u8]>,
}

impl PartialEq for FileBody {
    fn eq(&self, other: &FileBody) -> bool {
        self.path == other.path
            && (Arc::ptr_eq(&self.bytes, &other.bytes) || self.bytes == other.bytes)
    }
}

impl Eq for FileBody {}

/// Why a `file=` step cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// A plan chosen by a request, on a server without `--files DIR`.
    NotAllowed,
    /// A plan chosen by a request names a file outside `--files DIR` (after `..` and symbolic
    /// links are resolved).
    Outside(String),
    /// The file cannot be opened or read: the path and the system's reason.
    Unreadable(String, String),
    /// Not a regular file (a directory, a FIFO, a device).
    NotAFile(String),
    /// Larger than [`MAX_FILE`]: the path and its size.
    TooLarge(String, u64),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotAllowed => f.write_str(
                "step 'file' reads a file on the server: allowed on the command line, in \
                 routes files and from the library; a plan from a request (path, \
                 X-Httpfault-Plan, control API) may read files only when the server was \
                 started with --files DIR (then files under DIR)",
            ),
            FileError::Outside(p) => write!(
                f,
                "step 'file': '{}' is outside the --files directory",
                super::Escaped(p)
            ),
            FileError::Unreadable(p, why) => {
                write!(
                    f,
                    "step 'file': cannot read '{}' ({why})",
                    super::Escaped(p)
                )
            }
            FileError::NotAFile(p) => write!(
                f,
                "step 'file': '{}' is not a regular file",
                super::Escaped(p)
            ),
            FileError::TooLarge(p, n) => write!(
                f,
                "step 'file': '{}' has {n} bytes (at most {MAX_FILE}, 64 MiB)",
                super::Escaped(p)
            ),
        }
    }
}

/// Which files the plans of one source may read, with the cache that shares their bytes.
#[derive(Clone, Debug, Default)]
pub struct Files {
    reads: Reads,
    /// `--files DIR`, canonical: a request's plans read files under it.
    dir: Option<Arc<Path>>,
    cache: Option<Arc<FileCache>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Reads {
    /// Nothing is read: the plan's syntax only ([`Files::SYNTAX`]).
    #[default]
    Nothing,
    /// A request's plans: files under `dir`, if any.
    Under,
    /// The operator's plans: any regular file.
    Any,
}

/// Files read so far, by device and inode, while any plan holds their bytes.
#[derive(Debug, Default)]
pub struct FileCache {
    files: Mutex<HashMap<(u64, u64), Cached>>,
}

#[derive(Debug)]
struct Cached {
    len: u64,
    modified: Option<SystemTime>,
    bytes: Weak<[u8]>,
}

impl Files {
    /// The syntax only: nothing is read, a `file=` body is left empty. What
    /// [`super::Plan::parse`] does (pure, no I/O); a server never serves such a plan.
    pub const SYNTAX: Files = Files {
        reads: Reads::Nothing,
        dir: None,
        cache: None,
    };

    /// What a server's requests may read: files under `dir` (`--files DIR`, canonical, see
    /// [`files_dir`]), or none; with a cache of its own.
    pub fn requests(dir: Option<Arc<Path>>) -> Files {
        Files {
            reads: Reads::Under,
            dir,
            cache: Some(Arc::default()),
        }
    }

    /// The operator's plans (command line, routes files, library) on the same server: any
    /// regular file, sharing this cache.
    pub fn operator(&self) -> Files {
        Files {
            reads: Reads::Any,
            dir: None,
            cache: self.cache.clone(),
        }
    }

    /// Are files read (rather than the syntax checked only)?
    pub fn reads(&self) -> bool {
        self.reads != Reads::Nothing
    }

    /// Reads the file a plan names (`path` as written), as this source may.
    pub fn load(&self, path: &[u8]) -> Result<Arc<[u8]>, FileError> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let written = Path::new(std::ffi::OsStr::from_bytes(path));
        let (file, meta) = if self.reads == Reads::Any {
            open(written, false).map_err(|e| unreadable(&shown, &e))?
        } else {
            let dir = self.dir.as_deref().ok_or(FileError::NotAllowed)?;
            let target = under(dir, written).ok_or_else(|| FileError::Outside(shown.clone()))?;
            // Symbolic links resolved: the file itself must still be under DIR.
            let real = fs::canonicalize(&target).map_err(|e| unreadable(&shown, &e))?;
            if !real.starts_with(dir) {
                return Err(FileError::Outside(shown));
            }
            open(&real, true).map_err(|e| unreadable(&shown, &e))?
        };
        if !meta.is_file() {
            return Err(FileError::NotAFile(shown));
        }
        if meta.len() > MAX_FILE {
            return Err(FileError::TooLarge(shown, meta.len()));
        }
        let key = (meta.dev(), meta.ino());
        let modified = meta.modified().ok();
        if let Some(bytes) = self.cached(key, meta.len(), modified) {
            return Ok(bytes);
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreadable(&shown, &e))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(FileError::TooLarge(shown, bytes.len() as u64));
        }
        let bytes: Arc<[u8]> = Arc::from(bytes);
        if let Some(cache) = &self.cache {
            let mut files = cache.files.lock().unwrap_or_else(|p| p.into_inner());
            if files.len() >= CACHE_PRUNE_AT {
                files.retain(|_, c| c.bytes.strong_count() > 0);
            }
            files.insert(
                key,
                Cached {
                    len: bytes.len() as u64,
                    modified,
                    bytes: Arc::downgrade(&bytes),
                },
            );
        }
        Ok(bytes)
    }

    /// The bytes of an unchanged file some plan still holds.
    fn cached(&self, key: (u64, u64), len: u64, modified: Option<SystemTime>) -> Option<Arc<[u8]>> {
        let cache = self.cache.as_ref()?;
        let files = cache.files.lock().unwrap_or_else(|p| p.into_inner());
        let c = files.get(&key)?;
        if c.len != len || c.modified != modified || modified.is_none() {
            return None;
        }
        c.bytes.upgrade()
    }
}

/// `DIR` as `--files` takes it: an existing directory, canonical.
pub fn files_dir(dir: &Path) -> Result<Arc<Path>, String> {
    let real = fs::canonicalize(dir).map_err(|e| format!("'{}': {e}", dir.display()))?;
    if !real.is_dir() {
        return Err(format!("'{}' is not a directory", dir.display()));
    }
    Ok(Arc::from(real))
}

/// `path` (relative to `dir`, or absolute) with `.` and `..` resolved by name, if it stays
/// under `dir`. Checked before the file system is asked anything, so a request cannot even
/// learn whether a file outside exists.
fn under(dir: &Path, path: &Path) -> Option<PathBuf> {
    let joined = dir.join(path);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    (out.starts_with(dir) && out != dir).then_some(out)
}

/// Opens a file for reading without blocking on a FIFO, and without following a final
/// symbolic link when `no_follow` (the path is canonical: a link there now was swapped in).
fn open(path: &Path, no_follow: bool) -> io::Result<(File, fs::Metadata)> {
    let flags = libc::O_NONBLOCK | if no_follow { libc::O_NOFOLLOW } else { 0 };
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

fn unreadable(shown: &str, e: &io::Error) -> FileError {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    FileError::Unreadable(shown.to_string(), why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("httpfault-files-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::canonicalize(&d).unwrap()
    }

    #[test]
    fn lexical_check_keeps_paths_under_the_directory() {
        let d = Path::new("/srv/data");
        assert_eq!(under(d, Path::new("a.sse")), Some(d.join("a.sse")));
        assert_eq!(under(d, Path::new("x/../a.sse")), Some(d.join("a.sse")));
        assert_eq!(under(d, Path::new("./x/./a")), Some(d.join("x/a")));
        assert_eq!(under(d, Path::new("/srv/data/a")), Some(d.join("a")));
        assert_eq!(under(d, Path::new("../data2/a")), None);
        assert_eq!(under(d, Path::new("../../etc/passwd")), None);
        assert_eq!(under(d, Path::new("/etc/passwd")), None);
        assert_eq!(under(d, Path::new("x/../../data/a")), Some(d.join("a")));
        assert_eq!(under(d, Path::new(".")), None);
        assert_eq!(under(d, Path::new("")), None);
    }

    #[test]
    fn requests_read_files_under_the_directory_only() {
        let d = temp_dir("under");
        let outside = temp_dir("outside");
        fs::write(d.join("a.sse"), b"data: 1\n\n").unwrap();
        fs::write(outside.join("secret"), b"no").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("dirlink")).unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        let dir: Arc<Path> = Arc::from(d.as_path());
        let req = Files::requests(Some(dir));
        assert_eq!(&*req.load(b"a.sse").unwrap(), b"data: 1\n\n");
        let abs = d.join("a.sse");
        assert!(req.load(abs.as_os_str().as_bytes()).is_ok());
        let out = |p: &str| FileError::Outside(p.to_string());
        assert_eq!(
            req.load(b"../outside/secret"),
            Err(out("../outside/secret"))
        );
        assert_eq!(req.load(b"link"), Err(out("link")));
        assert_eq!(req.load(b"dirlink/secret"), Err(out("dirlink/secret")));
        let secret = outside.join("secret");
        let secret = secret.to_str().unwrap();
        assert_eq!(req.load(secret.as_bytes()), Err(out(secret)));
        assert!(matches!(
            req.load(b"missing"),
            Err(FileError::Unreadable(..))
        ));
        assert!(matches!(req.load(b"sub"), Err(FileError::NotAFile(_))));
        // Without --files nothing is read.
        assert_eq!(
            Files::requests(None).load(b"a.sse"),
            Err(FileError::NotAllowed)
        );
        assert_eq!(Files::SYNTAX.load(b"a.sse"), Err(FileError::NotAllowed));
        // The operator reads anything regular, links included; the cache shares the bytes.
        let op = req.operator();
        let a = op.load(secret.as_bytes()).unwrap();
        let link = d.join("link");
        let b = op.load(link.as_os_str().as_bytes()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let devnull = op.load(b"/dev/null");
        assert_eq!(devnull, Err(FileError::NotAFile("/dev/null".into())));
        let _ = fs::remove_dir_all(&d);
        let _ = fs::remove_dir_all(&outside);
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = temp_dir("fifo");
        let fifo = d.join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(status.is_ok_and(|s| s.success()), "mkfifo (coreutils)");
        let r = Files::SYNTAX.operator().load(fifo.as_os_str().as_bytes());
        assert!(matches!(r, Err(FileError::NotAFile(_))), "{r:?}");
        let _ = fs::remove_dir_all(&d);
    }
}
