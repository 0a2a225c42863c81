namespace Ebpf;

/// <summary>Linux errno values, as the kernel's bpf(2) returns them (x86-64/arm64 numbering).</summary>
public enum Errno
{
    /// <summary>No error (0): the operation succeeded.</summary>
    None = 0,
    /// <summary>EPERM (1): Operation not permitted.</summary>
    EPERM = 1,
    /// <summary>ENOENT (2): No such file or directory.</summary>
    ENOENT = 2,
    /// <summary>ESRCH (3): No such process.</summary>
    ESRCH = 3,
    /// <summary>EINTR (4): Interrupted system call.</summary>
    EINTR = 4,
    /// <summary>EIO (5): Input/output error.</summary>
    EIO = 5,
    /// <summary>ENXIO (6): No such device or address.</summary>
    ENXIO = 6,
    /// <summary>E2BIG (7): Argument list too long.</summary>
    E2BIG = 7,
    /// <summary>ENOEXEC (8): Exec format error.</summary>
    ENOEXEC = 8,
    /// <summary>EBADF (9): Bad file descriptor.</summary>
    EBADF = 9,
    /// <summary>EAGAIN (11): Resource temporarily unavailable.</summary>
    EAGAIN = 11,
    /// <summary>ENOMEM (12): Cannot allocate memory.</summary>
    ENOMEM = 12,
    /// <summary>EACCES (13): Permission denied.</summary>
    EACCES = 13,
    /// <summary>EFAULT (14): Bad address.</summary>
    EFAULT = 14,
    /// <summary>EBUSY (16): Device or resource busy.</summary>
    EBUSY = 16,
    /// <summary>EEXIST (17): File exists.</summary>
    EEXIST = 17,
    /// <summary>EXDEV (18): Invalid cross-device link.</summary>
    EXDEV = 18,
    /// <summary>ENODEV (19): No such device.</summary>
    ENODEV = 19,
    /// <summary>ENOTDIR (20): Not a directory.</summary>
    ENOTDIR = 20,
    /// <summary>EISDIR (21): Is a directory.</summary>
    EISDIR = 21,
    /// <summary>EINVAL (22): Invalid argument.</summary>
    EINVAL = 22,
    /// <summary>ENFILE (23): Too many open files in system.</summary>
    ENFILE = 23,
    /// <summary>EMFILE (24): Too many open files.</summary>
    EMFILE = 24,
    /// <summary>ENOTTY (25): Inappropriate ioctl for device.</summary>
    ENOTTY = 25,
    /// <summary>EFBIG (27): File too large.</summary>
    EFBIG = 27,
    /// <summary>ENOSPC (28): No space left on device.</summary>
    ENOSPC = 28,
    /// <summary>ESPIPE (29): Illegal seek.</summary>
    ESPIPE = 29,
    /// <summary>EROFS (30): Read-only file system.</summary>
    EROFS = 30,
    /// <summary>EMLINK (31): Too many links.</summary>
    EMLINK = 31,
    /// <summary>ERANGE (34): Numerical result out of range.</summary>
    ERANGE = 34,
    /// <summary>EDEADLK (35): Resource deadlock avoided.</summary>
    EDEADLK = 35,
    /// <summary>ENAMETOOLONG (36): File name too long.</summary>
    ENAMETOOLONG = 36,
    /// <summary>ENOSYS (38): Function not implemented.</summary>
    ENOSYS = 38,
    /// <summary>ENOTEMPTY (39): Directory not empty.</summary>
    ENOTEMPTY = 39,
    /// <summary>ELOOP (40): Too many levels of symbolic links.</summary>
    ELOOP = 40,
    /// <summary>ENOMSG (42): No message of desired type.</summary>
    ENOMSG = 42,
    /// <summary>ENODATA (61): No data available.</summary>
    ENODATA = 61,
    /// <summary>ETIME (62): Timer expired.</summary>
    ETIME = 62,
    /// <summary>EPROTO (71): Protocol error.</summary>
    EPROTO = 71,
    /// <summary>EBADMSG (74): Bad message.</summary>
    EBADMSG = 74,
    /// <summary>EOVERFLOW (75): Value too large for defined data type.</summary>
    EOVERFLOW = 75,
    /// <summary>EILSEQ (84): Invalid or incomplete multibyte or wide character.</summary>
    EILSEQ = 84,
    /// <summary>ENOTSOCK (88): Socket operation on non-socket.</summary>
    ENOTSOCK = 88,
    /// <summary>EPROTONOSUPPORT (93): Protocol not supported.</summary>
    EPROTONOSUPPORT = 93,
    /// <summary>EOPNOTSUPP (95): Operation not supported.</summary>
    EOPNOTSUPP = 95,
    /// <summary>EAFNOSUPPORT (97): Address family not supported by protocol.</summary>
    EAFNOSUPPORT = 97,
    /// <summary>EADDRINUSE (98): Address already in use.</summary>
    EADDRINUSE = 98,
    /// <summary>ENOBUFS (105): No buffer space available.</summary>
    ENOBUFS = 105,
    /// <summary>ETIMEDOUT (110): Connection timed out.</summary>
    ETIMEDOUT = 110,
    /// <summary>EALREADY (114): Operation already in progress.</summary>
    EALREADY = 114,
    /// <summary>Kernel-internal "operation not supported" (never in uapi, but bpf(2) returns it).</summary>
    ENOTSUPP = 524,
}
