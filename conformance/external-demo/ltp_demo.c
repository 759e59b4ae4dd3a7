/* A tiny LTP-style test for `conformance external --format ltp` (a test of the runner, not of the kernel).
 * Usage: ltp_demo MODE. It prints LTP-like result lines and exits with LTP's result mask:
 * 0 pass, 1 TFAIL, 2 TBROK, 32 TCONF. Modes:
 *   files   create, write, read back and stat a file in the cwd (passes natively and in the sandbox)
 *   conf    report TCONF (a missing feature)
 *   fail    report TFAIL (fails natively: the runner must skip it, never count it)
 *   userns  unshare(CLONE_NEWUSER): passes natively, refused (EPERM) in the sandbox -> a reported difference
 *   hang    sleep forever (the runner's timeout must kill it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TPASS 0
#define TFAIL 1
#define TBROK 2
#define TCONF 32

static int result(int code, const char *what) {
    const char *tag = code == TPASS ? "TPASS" : code == TCONF ? "TCONF" : code == TBROK ? "TBROK" : "TFAIL";
    printf("ltp_demo.c:1: %s: %s\n", tag, what);
    return code;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "files";
    if (strcmp(mode, "files") == 0) {
        int fd = open("demo.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
        if (fd < 0) return result(TBROK, strerror(errno));
        if (write(fd, "abc", 3) != 3) return result(TFAIL, "write");
        char buf[4] = {0};
        if (pread(fd, buf, 3, 0) != 3 || strcmp(buf, "abc") != 0) return result(TFAIL, "read back");
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size != 3) return result(TFAIL, "fstat size");
        close(fd);
        return result(TPASS, "file created, written, read back");
    }
    if (strcmp(mode, "conf") == 0) return result(TCONF, "feature not available");
    if (strcmp(mode, "fail") == 0) return result(TFAIL, "this test always fails");
    if (strcmp(mode, "userns") == 0) {
        if (unshare(CLONE_NEWUSER) != 0) return result(TFAIL, strerror(errno));
        return result(TPASS, "unshare(CLONE_NEWUSER)");
    }
    if (strcmp(mode, "hang") == 0) {
        for (;;) pause();
    }
    return result(TBROK, "unknown mode");
}
