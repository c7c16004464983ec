//! Preview1 error numbers and the mapping from host (Linux) errors to them.

macro_rules! errnos {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        /// A WASI preview1 `errno` value.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Errno {
            $(
                #[doc = $text]
                $name = $value,
            )*
        }

        impl Errno {
            /// The preview1 name, e.g. `notcapable`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => $text,)*
                }
            }
        }
    };
}

errnos! {
    Success = 0, "success";
    TooBig = 1, "2big";
    Acces = 2, "acces";
    AddrInUse = 3, "addrinuse";
    AddrNotAvail = 4, "addrnotavail";
    AfNoSupport = 5, "afnosupport";
    Again = 6, "again";
    Already = 7, "already";
    Badf = 8, "badf";
    BadMsg = 9, "badmsg";
    Busy = 10, "busy";
    Canceled = 11, "canceled";
    Child = 12, "child";
    ConnAborted = 13, "connaborted";
    ConnRefused = 14, "connrefused";
    ConnReset = 15, "connreset";
    Deadlk = 16, "deadlk";
    DestAddrReq = 17, "destaddrreq";
    Dom = 18, "dom";
    Dquot = 19, "dquot";
    Exist = 20, "exist";
    Fault = 21, "fault";
    Fbig = 22, "fbig";
    HostUnreach = 23, "hostunreach";
    Idrm = 24, "idrm";
    Ilseq = 25, "ilseq";
    InProgress = 26, "inprogress";
    Intr = 27, "intr";
    Inval = 28, "inval";
    Io = 29, "io";
    IsConn = 30, "isconn";
    IsDir = 31, "isdir";
    Loop = 32, "loop";
    Mfile = 33, "mfile";
    Mlink = 34, "mlink";
    MsgSize = 35, "msgsize";
    Multihop = 36, "multihop";
    NameTooLong = 37, "nametoolong";
    NetDown = 38, "netdown";
    NetReset = 39, "netreset";
    NetUnreach = 40, "netunreach";
    Nfile = 41, "nfile";
    NoBufs = 42, "nobufs";
    NoDev = 43, "nodev";
    NoEnt = 44, "noent";
    NoExec = 45, "noexec";
    NoLck = 46, "nolck";
    NoLink = 47, "nolink";
    NoMem = 48, "nomem";
    NoMsg = 49, "nomsg";
    NoProtoOpt = 50, "noprotoopt";
    NoSpc = 51, "nospc";
    NoSys = 52, "nosys";
    NotConn = 53, "notconn";
    NotDir = 54, "notdir";
    NotEmpty = 55, "notempty";
    NotRecoverable = 56, "notrecoverable";
    NotSock = 57, "notsock";
    NotSup = 58, "notsup";
    NoTty = 59, "notty";
    Nxio = 60, "nxio";
    Overflow = 61, "overflow";
    OwnerDead = 62, "ownerdead";
    Perm = 63, "perm";
    Pipe = 64, "pipe";
    Proto = 65, "proto";
    ProtoNoSupport = 66, "protonosupport";
    ProtoType = 67, "prototype";
    Range = 68, "range";
    Rofs = 69, "rofs";
    Spipe = 70, "spipe";
    Srch = 71, "srch";
    Stale = 72, "stale";
    TimedOut = 73, "timedout";
    TxtBsy = 74, "txtbsy";
    Xdev = 75, "xdev";
    NotCapable = 76, "notcapable";
}

impl Errno {
    /// Maps a raw Linux `errno` value; unknown values become `io`.
    pub fn from_raw_os_error(raw: i32) -> Errno {
        use libc::*;
        match raw {
            0 => Errno::Success,
            E2BIG => Errno::TooBig,
            EACCES => Errno::Acces,
            EADDRINUSE => Errno::AddrInUse,
            EADDRNOTAVAIL => Errno::AddrNotAvail,
            EAFNOSUPPORT => Errno::AfNoSupport,
            EAGAIN => Errno::Again,
            EALREADY => Errno::Already,
            EBADF => Errno::Badf,
            EBADMSG => Errno::BadMsg,
            EBUSY => Errno::Busy,
            ECANCELED => Errno::Canceled,
            ECHILD => Errno::Child,
            ECONNABORTED => Errno::ConnAborted,
            ECONNREFUSED => Errno::ConnRefused,
            ECONNRESET => Errno::ConnReset,
            EDEADLK => Errno::Deadlk,
            EDESTADDRREQ => Errno::DestAddrReq,
            EDOM => Errno::Dom,
            EDQUOT => Errno::Dquot,
            EEXIST => Errno::Exist,
            EFAULT => Errno::Fault,
            EFBIG => Errno::Fbig,
            EHOSTUNREACH => Errno::HostUnreach,
            EIDRM => Errno::Idrm,
            EILSEQ => Errno::Ilseq,
            EINPROGRESS => Errno::InProgress,
            EINTR => Errno::Intr,
            EINVAL => Errno::Inval,
            EIO => Errno::Io,
            EISCONN => Errno::IsConn,
            EISDIR => Errno::IsDir,
            ELOOP => Errno::Loop,
            EMFILE => Errno::Mfile,
            EMLINK => Errno::Mlink,
            EMSGSIZE => Errno::MsgSize,
            EMULTIHOP => Errno::Multihop,
            ENAMETOOLONG => Errno::NameTooLong,
            ENETDOWN => Errno::NetDown,
            ENETRESET => Errno::NetReset,
            ENETUNREACH => Errno::NetUnreach,
            ENFILE => Errno::Nfile,
            ENOBUFS => Errno::NoBufs,
            ENODEV => Errno::NoDev,
            ENOENT => Errno::NoEnt,
            ENOEXEC => Errno::NoExec,
            ENOLCK => Errno::NoLck,
            ENOLINK => Errno::NoLink,
            ENOMEM => Errno::NoMem,
            ENOMSG => Errno::NoMsg,
            ENOPROTOOPT => Errno::NoProtoOpt,
            ENOSPC => Errno::NoSpc,
            ENOSYS => Errno::NoSys,
            ENOTCONN => Errno::NotConn,
            ENOTDIR => Errno::NotDir,
            ENOTEMPTY => Errno::NotEmpty,
            ENOTRECOVERABLE => Errno::NotRecoverable,
            ENOTSOCK => Errno::NotSock,
            ENOTSUP => Errno::NotSup,
            ENOTTY => Errno::NoTty,
            ENXIO => Errno::Nxio,
            EOVERFLOW => Errno::Overflow,
            EOWNERDEAD => Errno::OwnerDead,
            EPERM => Errno::Perm,
            EPIPE => Errno::Pipe,
            EPROTO => Errno::Proto,
            EPROTONOSUPPORT => Errno::ProtoNoSupport,
            EPROTOTYPE => Errno::ProtoType,
            ERANGE => Errno::Range,
            EROFS => Errno::Rofs,
            ESPIPE => Errno::Spipe,
            ESRCH => Errno::Srch,
            ESTALE => Errno::Stale,
            ETIMEDOUT => Errno::TimedOut,
            ETXTBSY => Errno::TxtBsy,
            EXDEV => Errno::Xdev,
            _ => Errno::Io,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno::from_raw_os_error(e.raw_os_error())
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        match e.raw_os_error() {
            Some(raw) => Errno::from_raw_os_error(raw),
            None => match e.kind() {
                std::io::ErrorKind::NotFound => Errno::NoEnt,
                std::io::ErrorKind::PermissionDenied => Errno::Perm,
                std::io::ErrorKind::InvalidInput => Errno::Inval,
                std::io::ErrorKind::WouldBlock => Errno::Again,
                std::io::ErrorKind::Interrupted => Errno::Intr,
                std::io::ErrorKind::OutOfMemory => Errno::NoMem,
                _ => Errno::Io,
            },
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), *self as u16)
    }
}

/// The result of a preview1 function: `Ok` is `errno::success`.
pub(crate) type WasiResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_host_errors() {
        assert_eq!(Errno::from(rustix::io::Errno::NOENT), Errno::NoEnt);
        assert_eq!(Errno::from(rustix::io::Errno::XDEV), Errno::Xdev);
        assert_eq!(Errno::from_raw_os_error(libc::ENOTEMPTY), Errno::NotEmpty);
        assert_eq!(Errno::from_raw_os_error(9999), Errno::Io);
        assert_eq!(Errno::NotCapable as u16, 76);
        assert_eq!(Errno::NotCapable.name(), "notcapable");
        let e = std::io::Error::from_raw_os_error(libc::EISDIR);
        assert_eq!(Errno::from(e), Errno::IsDir);
    }
}
