package io.strata.posix;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;

/**
 * The few libc calls Java has no API for. Constants are the Linux values shared
 * by x86_64 and aarch64 (the asm-generic ABI); Strata supports only 64-bit Linux,
 * where off_t is 64 bits and the plain symbols take {@code long} offsets.
 */
interface LibC extends Library {
    int O_RDONLY = 0;
    int O_RDWR = 2;
    int O_CREAT = 0100;
    int O_EXCL = 0200;
    int O_CLOEXEC = 02000000;
    int O_NOFOLLOW = 0400000;

    /**
     * O_DIRECT, one of the few flags whose value differs between architectures.
     *
     * @return the value for the architecture JNA reports
     */
    static int oDirect() {
        switch (com.sun.jna.Platform.ARCH) {
            case "aarch64":
            case "arm":
                return 0200000;
            case "ppc64":
            case "ppc64le":
            case "ppc":
                return 0400000;
            default:
                return 040000; // x86-64, s390x, riscv64, loongarch64 (asm-generic)
        }
    }

    int FALLOC_FL_KEEP_SIZE = 0x01;
    int FALLOC_FL_PUNCH_HOLE = 0x02;

    /** _IOR(0x12, 114, size_t) with the generic _IOC layout. */
    long BLKGETSIZE64 = 0x80081272L;
    /** _IO(0x12, 104). */
    long BLKSSZGET = 0x1268L;

    int F_OFD_SETLK = 37;
    short F_RDLCK = 0;
    short F_WRLCK = 1;
    short F_UNLCK = 2;

    int AT_FDCWD = -100;
    int AT_SYMLINK_NOFOLLOW = 0x100;
    int AT_EMPTY_PATH = 0x1000;
    int STATX_BLOCKS = 0x400;
    int STATX_DIOALIGN = 0x2000;
    int STATX_TYPE = 0x1;
    int S_IFMT = 0170000;
    int S_IFBLK = 0060000;
    /** Offsets in struct statx, which unlike struct stat is the same on every architecture. */
    int STATX_SIZE_BYTES = 256;
    int STATX_OFF_MASK = 0;
    int STATX_OFF_BLOCKS = 48;
    int STATX_OFF_MODE = 28;
    int STATX_OFF_RDEV_MAJOR = 128;
    int STATX_OFF_RDEV_MINOR = 132;
    int STATX_OFF_DEV_MAJOR = 136;
    int STATX_OFF_DEV_MINOR = 140;
    int STATX_OFF_DIO_MEM_ALIGN = 152;
    int STATX_OFF_DIO_OFFSET_ALIGN = 156;

    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int MAP_SHARED = 1;
    int SEEK_HOLE = 4;

    int open(String path, int flags, int mode);

    /** void *mmap(void *, size_t, int, int, int, off_t); MAP_FAILED is the address -1. */
    Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    int munmap(Pointer addr, long length);

    /** off_t lseek(int, off_t, int). */
    long lseek(int fd, long offset, int whence);

    int close(int fd);

    int fallocate(int fd, int mode, long offset, long len);

    int ftruncate(int fd, long length);

    /** ssize_t pread(int, void *, size_t, off_t), with 64-bit size_t and off_t. */
    long pread(int fd, Pointer buf, long count, long offset);

    /** ssize_t pwrite(int, const void *, size_t, off_t), with 64-bit size_t and off_t. */
    long pwrite(int fd, Pointer buf, long count, long offset);

    int fsync(int fd);

    int ioctl(int fd, NativeLong request, LongByReference arg);

    int ioctl(int fd, NativeLong request, IntByReference arg);

    int fcntl(int fd, int cmd, Flock lock);

    int statx(int dirfd, String path, int flags, int mask, Pointer buf);

    int geteuid();

    int IPPROTO_TCP = 6;
    /** The socket's TCP congestion control, by name (linux/tcp.h). */
    int TCP_CONGESTION = 13;

    int setsockopt(int fd, int level, int name, byte[] value, int length);

    int getsockopt(int fd, int level, int name, byte[] value, IntByReference length);

    String strerror(int errnum);

    /** struct flock; OFD locks require l_pid = 0. */
    @Structure.FieldOrder({"l_type", "l_whence", "l_start", "l_len", "l_pid"})
    class Flock extends Structure {
        public short l_type;
        public short l_whence;
        public long l_start;
        public long l_len;
        public int l_pid;
    }

    /** Loaded on first use, so a missing JNA fails where it is needed, with a clear error. */
    final class Holder {
        static final LibC INSTANCE = Native.load("c", LibC.class);

        private Holder() {
        }
    }
}
