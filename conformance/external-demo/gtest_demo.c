/* A tiny program that prints gtest-format results, for `conformance external --format gtest` (a test of the
 * runner, not of the kernel). With no argument it runs every test; with "--portable" only those that behave the
 * same natively and in the sandbox. Ns.UnshareUser passes natively and fails in the sandbox, where new user
 * namespaces are refused: the runner must report that one test as the difference.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;
static char failed_names[8][64];

static void report(const char *name, int ok, const char *why) {
    printf("[ RUN      ] %s\n", name);
    if (ok) {
        printf("[       OK ] %s (0 ms)\n", name);
        passed++;
    } else {
        printf("gtest_demo.c:1: Failure\n%s\n[  FAILED  ] %s (0 ms)\n", why, name);
        snprintf(failed_names[failed++ % 8], 64, "%s", name);
    }
}

static int files_create_read_back(void) {
    int fd = open("g.txt", O_CREAT | O_RDWR | O_TRUNC, 0600);
    char b[3] = {0};
    int ok = fd >= 0 && write(fd, "hi", 2) == 2 && pread(fd, b, 2, 0) == 2 && strcmp(b, "hi") == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static int proc_self_exe(void) {
    char p[4096];
    ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
    return n > 0 && p[0] == '/';
}

int main(int argc, char **argv) {
    int portable = argc > 1 && strcmp(argv[1], "--portable") == 0;
    int total = portable ? 2 : 3;
    printf("[==========] Running %d tests from 2 test suites.\n", total);
    report("Files.CreateReadBack", files_create_read_back(), "file round trip failed");
    report("Proc.SelfExe", proc_self_exe(), "readlink /proc/self/exe failed");
    if (!portable) {
        int ok = unshare(CLONE_NEWUSER) == 0;
        report("Ns.UnshareUser", ok, strerror(errno));
    }
    printf("[==========] %d tests from 2 test suites ran. (0 ms total)\n", total);
    printf("[  PASSED  ] %d test%s.\n", passed, passed == 1 ? "" : "s");
    if (failed) {
        printf("[  FAILED  ] %d test%s, listed below:\n", failed, failed == 1 ? "" : "s");
        for (int i = 0; i < failed && i < 8; i++) printf("[  FAILED  ] %s\n", failed_names[i]);
        return 1;
    }
    return 0;
}
