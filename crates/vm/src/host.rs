//! What the `io`, `os` and `package` libraries ask of the world outside the VM: files,
//! commands and the environment, through the [`Host`](crate::Host) methods that use these
//! types. A host that offers none of it (a browser sandbox) keeps the trait's defaults, and
//! scripts see failures the way lua5.4 reports them: `nil, "data.txt: not available in this
//! sandbox", 38`.

use alloc::string::String;

/// An error as C reports it: `strerror`'s text and the `errno` number, which the libraries
/// hand to scripts as they are (`nil, "x: No such file or directory", 2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    /// What went wrong, without the file name (`No such file or directory`).
    pub message: String,
    /// The error number (`errno`).
    pub code: i32,
}

/// A host call's result.
pub type HostResult<T> = Result<T, HostError>;

impl HostError {
    /// `ENOSYS`, the number of [`HostError::unavailable`].
    pub const UNAVAILABLE: i32 = 38;
    /// Not an errno: [`Host::read_stdin`] has no input yet and the embedder will have some
    /// later. The `io` read asking waits for the embedder ([`Ctx::request_host`], yielding
    /// the integer 0) and, once answered, reads again from where it started.
    ///
    /// [`Host::read_stdin`]: crate::Host::read_stdin
    /// [`Ctx::request_host`]: crate::Ctx::request_host
    pub const WOULD_BLOCK: i32 = 0x10000;

    pub fn new(message: impl Into<String>, code: i32) -> Self {
        HostError {
            message: message.into(),
            code,
        }
    }

    /// What a host answers for a capability it does not have.
    pub fn unavailable() -> Self {
        HostError::new("not available in this sandbox", Self::UNAVAILABLE)
    }

    /// `EBADF`: reading a file opened only for writing, or the other way round.
    pub fn bad_descriptor() -> Self {
        HostError::new("Bad file descriptor", 9)
    }

    /// `ESPIPE`: seeking in a stream that cannot (a pipe, a terminal).
    pub fn illegal_seek() -> Self {
        HostError::new("Illegal seek", 29)
    }

    /// `EINVAL`: a position before the start of a file.
    pub fn invalid_argument() -> Self {
        HostError::new("Invalid argument", 22)
    }
}

/// How `io.open` opens a file (its mode without the `b`, which means nothing here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `r`: read an existing file.
    Read,
    /// `w`: write a file, created or emptied.
    Write,
    /// `a`: write at the end of a file, created if absent.
    Append,
    /// `r+`: read and write an existing file.
    ReadUpdate,
    /// `w+`: read and write a file, created or emptied.
    WriteUpdate,
    /// `a+`: read anywhere, write at the end, created if absent.
    AppendUpdate,
}

impl OpenMode {
    /// A mode as `io.open` accepts it: `r`, `w` or `a`, an optional `+`, then only `b`s.
    pub fn parse(mode: &[u8]) -> Option<OpenMode> {
        let (&first, rest) = mode.split_first()?;
        let (update, rest) = match rest.split_first() {
            Some((b'+', rest)) => (true, rest),
            _ => (false, rest),
        };
        if rest.iter().any(|&c| c != b'b') {
            return None;
        }
        Some(match (first, update) {
            (b'r', false) => OpenMode::Read,
            (b'w', false) => OpenMode::Write,
            (b'a', false) => OpenMode::Append,
            (b'r', true) => OpenMode::ReadUpdate,
            (b'w', true) => OpenMode::WriteUpdate,
            (b'a', true) => OpenMode::AppendUpdate,
            _ => return None,
        })
    }

    pub fn readable(self) -> bool {
        !matches!(self, OpenMode::Write | OpenMode::Append)
    }

    pub fn writable(self) -> bool {
        self != OpenMode::Read
    }

    /// The mode as C's `fopen` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenMode::Read => "r",
            OpenMode::Write => "w",
            OpenMode::Append => "a",
            OpenMode::ReadUpdate => "r+",
            OpenMode::WriteUpdate => "w+",
            OpenMode::AppendUpdate => "a+",
        }
    }
}

/// Where a seek offset counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    /// The start of the file (`"set"`).
    Set,
    /// The current position (`"cur"`).
    Cur,
    /// The end of the file (`"end"`).
    End,
}

/// How a command ended (`os.execute`, closing an `io.popen` pipe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessEnd {
    /// It exited with this status.
    Exit(i32),
    /// A signal with this number ended it.
    Signal(i32),
}

/// A file (or a command's pipe) the host opened. The VM buffers reads and writes itself
/// (with `setvbuf`'s modes), so each call here is meant to reach the file.
pub trait HostFile {
    /// Reads up to `buf.len()` bytes; `Ok(0)` at the end of the file.
    fn read(&mut self, buf: &mut [u8]) -> HostResult<usize>;
    /// Writes all of `bytes`.
    fn write(&mut self, bytes: &[u8]) -> HostResult<()>;
    /// Moves to `offset` from `whence` and returns the new position from the start.
    fn seek(&mut self, whence: Whence, offset: i64) -> HostResult<u64>;
    /// Closes the file. A pipe waits for its command and says how it ended.
    fn close(self: alloc::boxed::Box<Self>) -> HostResult<Option<ProcessEnd>>;
}

#[cfg(test)]
mod tests {
    use super::OpenMode;

    #[test]
    fn modes_are_checked_as_lua_checks_them() {
        for (mode, parsed) in [
            (&b"r"[..], Some(OpenMode::Read)),
            (b"rb", Some(OpenMode::Read)),
            (b"rbb", Some(OpenMode::Read)),
            (b"r+b", Some(OpenMode::ReadUpdate)),
            (b"w+", Some(OpenMode::WriteUpdate)),
            (b"ab", Some(OpenMode::Append)),
            (b"rw", None),
            (b"rb+", None),
            (b"r+bk", None),
            (b"", None),
            (b"+", None),
            (b"b", None),
        ] {
            assert_eq!(
                OpenMode::parse(mode),
                parsed,
                "{:?}",
                core::str::from_utf8(mode)
            );
        }
    }
}
