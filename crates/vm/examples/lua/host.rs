//! The runner's host: the process's standard streams, real files, commands through `sh -c`
//! and the environment, all from `std`.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lua_persist_vm::{Host, HostError, HostFile, HostResult, OpenMode, ProcessEnd, Whence};

/// Standard output, standard error and standard input, shared by the host and the runner
/// (which reports errors on the same streams); tests put buffers in their place.
pub struct Streams {
    pub out: Box<dyn Write>,
    pub err: Box<dyn Write>,
    pub input: Box<dyn Read>,
}

pub type SharedStreams = Rc<RefCell<Streams>>;

impl Streams {
    /// Writes to standard error after sending on what standard output holds, so that a
    /// terminal shows both in order.
    pub fn report(&mut self, bytes: &[u8]) {
        let _ = self.out.flush();
        let _ = self.err.write_all(bytes);
        let _ = self.err.flush();
    }
}

/// The host of the native runner.
pub struct StdHost {
    streams: SharedStreams,
    started: Instant,
}

impl StdHost {
    pub fn new(streams: SharedStreams) -> StdHost {
        StdHost {
            streams,
            started: Instant::now(),
        }
    }
}

/// An `std` error as C reports it: `strerror`'s text and `errno`.
fn host_error(e: std::io::Error) -> HostError {
    let code = e.raw_os_error().unwrap_or(0);
    let text = e.to_string();
    // std says "No such file or directory (os error 2)"; C says the part before.
    let message = match text.rfind(" (os error ") {
        Some(at) => &text[..at],
        None => &text,
    };
    HostError::new(message, code)
}

/// A path as C sees a Lua string: up to its first zero byte.
fn c_path(bytes: &[u8]) -> &OsStr {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    OsStr::from_bytes(&bytes[..end])
}

fn shell(command: &[u8]) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(c_path(command));
    c
}

fn process_end(status: ExitStatus) -> ProcessEnd {
    match (status.code(), status.signal()) {
        (Some(code), _) => ProcessEnd::Exit(code),
        (None, Some(signal)) => ProcessEnd::Signal(signal),
        (None, None) => ProcessEnd::Exit(-1),
    }
}

impl Host for StdHost {
    fn write(&mut self, bytes: &[u8]) {
        let _ = self.streams.borrow_mut().out.write_all(bytes);
    }

    fn warn(&mut self, message: &[u8]) {
        let line = [b"Lua warning: ", message, b"\n"].concat();
        self.streams.borrow_mut().report(&line);
    }

    fn clock(&mut self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn time(&mut self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn random_seed(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }

    fn flush(&mut self) {
        let _ = self.streams.borrow_mut().out.flush();
    }

    fn write_err(&mut self, bytes: &[u8]) {
        let mut streams = self.streams.borrow_mut();
        let _ = streams.err.write_all(bytes);
        let _ = streams.err.flush();
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        self.streams
            .borrow_mut()
            .input
            .read(buf)
            .map_err(host_error)
    }

    fn open(&mut self, path: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let mut options = OpenOptions::new();
        match mode {
            OpenMode::Read => options.read(true),
            OpenMode::Write => options.write(true).create(true).truncate(true),
            OpenMode::Append => options.append(true).create(true),
            OpenMode::ReadUpdate => options.read(true).write(true),
            OpenMode::WriteUpdate => options.read(true).write(true).create(true).truncate(true),
            OpenMode::AppendUpdate => options.read(true).append(true).create(true),
        };
        let file = options.open(c_path(path)).map_err(host_error)?;
        Ok(Box::new(DiskFile(file)))
    }

    fn tmpfile(&mut self) -> HostResult<Box<dyn HostFile>> {
        let (path, file) = new_temporary_file()?;
        // The file lives on without its name until it is closed, as C's `tmpfile`.
        let _ = std::fs::remove_file(&path);
        Ok(Box::new(DiskFile(file)))
    }

    fn popen(&mut self, command: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let mut c = shell(command);
        if mode == OpenMode::Read {
            c.stdout(Stdio::piped());
        } else {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().map_err(host_error)?;
        Ok(Box::new(Pipe {
            output: child.stdout.take(),
            input: child.stdin.take(),
            child,
        }))
    }

    fn remove(&mut self, path: &[u8]) -> HostResult<()> {
        let path = c_path(path);
        // C's `remove` takes files and empty directories alike.
        let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        let removed = if is_dir {
            std::fs::remove_dir(path)
        } else {
            std::fs::remove_file(path)
        };
        removed.map_err(host_error)
    }

    fn rename(&mut self, from: &[u8], to: &[u8]) -> HostResult<()> {
        std::fs::rename(c_path(from), c_path(to)).map_err(host_error)
    }

    fn tmpname(&mut self) -> HostResult<Vec<u8>> {
        let (path, _) = new_temporary_file()?;
        Ok(path.into_os_string().into_vec())
    }

    fn shell_available(&mut self) -> bool {
        std::path::Path::new("/bin/sh").exists()
    }

    fn execute(&mut self, command: &[u8]) -> HostResult<ProcessEnd> {
        let status = shell(command).status().map_err(host_error)?;
        Ok(process_end(status))
    }

    fn getenv(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        std::env::var_os(c_path(name)).map(OsStringExt::into_vec)
    }
}

/// A new empty file `/tmp/lua_XXXXXX` (as lua5.4's `mkstemp` makes them), and its name.
fn new_temporary_file() -> HostResult<(std::path::PathBuf, File)> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 32;
    for attempt in 0..100u64 {
        let mut n = seed.wrapping_add(attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut name = String::from("lua_");
        for _ in 0..6 {
            const LETTERS: &[u8] =
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            name.push(LETTERS[(n % LETTERS.len() as u64) as usize] as char);
            n /= LETTERS.len() as u64;
        }
        let path = std::env::temp_dir().join(name);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(host_error(e)),
        }
    }
    Err(HostError::new("File exists", 17))
}

/// A file on disk: every call is a system call (the VM buffers).
struct DiskFile(File);

impl HostFile for DiskFile {
    fn read(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        self.0.read(buf).map_err(host_error)
    }

    fn write(&mut self, bytes: &[u8]) -> HostResult<()> {
        self.0.write_all(bytes).map_err(host_error)
    }

    fn seek(&mut self, whence: Whence, offset: i64) -> HostResult<u64> {
        let to = match whence {
            Whence::Set => {
                SeekFrom::Start(u64::try_from(offset).map_err(|_| HostError::invalid_argument())?)
            }
            Whence::Cur => SeekFrom::Current(offset),
            Whence::End => SeekFrom::End(offset),
        };
        self.0.seek(to).map_err(host_error)
    }

    fn close(self: Box<Self>) -> HostResult<Option<ProcessEnd>> {
        Ok(None)
    }
}

/// A command's pipe (`io.popen`).
struct Pipe {
    child: Child,
    output: Option<ChildStdout>,
    input: Option<ChildStdin>,
}

impl HostFile for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        match &mut self.output {
            Some(out) => out.read(buf).map_err(host_error),
            None => Err(HostError::bad_descriptor()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> HostResult<()> {
        match &mut self.input {
            Some(input) => input.write_all(bytes).map_err(host_error),
            None => Err(HostError::bad_descriptor()),
        }
    }

    fn seek(&mut self, _: Whence, _: i64) -> HostResult<u64> {
        Err(HostError::illegal_seek())
    }

    fn close(mut self: Box<Self>) -> HostResult<Option<ProcessEnd>> {
        // The command sees the end of its input, then we wait for it.
        drop(self.input.take());
        drop(self.output.take());
        let status = self.child.wait().map_err(host_error)?;
        Ok(Some(process_end(status)))
    }
}
