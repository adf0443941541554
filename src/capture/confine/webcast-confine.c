/*
 * webcast-confine: runs a command under a Landlock domain (Linux 5.13 and later) that lets it
 * read only the paths named with --ro, write only under those named with --rw, and (Linux 6.12
 * and later) neither connect to abstract UNIX sockets nor signal processes made outside it.
 *
 *   webcast-confine [--ro PATH]... [--rw PATH]... -- COMMAND [ARG]...
 *   webcast-confine --abi
 *
 * The cloud browser's launch runs it after its namespaces are set up and before it drops to the
 * browser's uid (cloud-browser.ts): code that got out of a page's sandbox into the browser's
 * processes then cannot read the node's world-readable files outside the system's own folders,
 * nor reach a UNIX socket in the abstract namespace. A domain holds across exec and setuid and
 * no process in it can leave it.
 *
 * With --abi it prints the kernel's Landlock ABI ("0": none), which the service reads at start
 * to say what the kernel leaves open; where it is 0 the service does not use this program. A
 * path that does not exist is left out. Exit 95: bad arguments or a Landlock call that failed.
 *
 * Written in C because the kernel's interface is three system calls that Node.js cannot make;
 * it needs only the C library (no linux/landlock.h: Debian 12's headers predate ABI 6).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

struct ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

#define CREATE_RULESET_VERSION (1U << 0)
#define RULE_PATH_BENEATH 1

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_REMOVE_DIR (1ULL << 4)
#define FS_REMOVE_FILE (1ULL << 5)
#define FS_MAKE_CHAR (1ULL << 6)
#define FS_MAKE_DIR (1ULL << 7)
#define FS_MAKE_REG (1ULL << 8)
#define FS_MAKE_SOCK (1ULL << 9)
#define FS_MAKE_FIFO (1ULL << 10)
#define FS_MAKE_BLOCK (1ULL << 11)
#define FS_MAKE_SYM (1ULL << 12)
#define FS_REFER (1ULL << 13)    /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

/* Rights that apply to a file as well as to a folder. */
#define FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
#define READ_RIGHTS (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR)

static int fail(const char *what) {
  fprintf(stderr, "webcast-confine: %s: %s\n", what, strerror(errno));
  return 95;
}

static uint64_t handled_for(long abi) {
  uint64_t fs = (FS_MAKE_SYM << 1) - 1; /* ABI 1: the first thirteen */
  if (abi >= 2) fs |= FS_REFER;
  if (abi >= 3) fs |= FS_TRUNCATE;
  if (abi >= 5) fs |= FS_IOCTL_DEV;
  return fs;
}

static int add_path(int ruleset, const char *path, uint64_t rights) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return -1;
  }
  struct path_beneath_attr rule = {.allowed_access = S_ISDIR(st.st_mode) ? rights : rights & FILE_RIGHTS, .parent_fd = fd};
  long rc = syscall(__NR_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &rule, 0);
  close(fd);
  return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, CREATE_RULESET_VERSION);
  if (abi < 0) abi = 0;
  if (argc == 2 && strcmp(argv[1], "--abi") == 0) return printf("%ld\n", abi) < 0 ? 95 : 0;

  int command = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      command = i + 1;
      break;
    }
    if ((strcmp(argv[i], "--ro") == 0 || strcmp(argv[i], "--rw") == 0) && i + 1 < argc) i++;
    else {
      fprintf(stderr, "webcast-confine: unexpected argument %s\n", argv[i]);
      return 95;
    }
  }
  if (command == 0 || command >= argc) {
    fprintf(stderr, "usage: webcast-confine [--ro PATH]... [--rw PATH]... -- COMMAND [ARG]... | webcast-confine --abi\n");
    return 95;
  }

  if (abi > 0) {
    uint64_t handled = handled_for(abi);
    struct ruleset_attr attr = {.handled_access_fs = handled, .scoped = abi >= 6 ? SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL : 0};
    /* The size of the attribute as this ABI knows it: older kernels refuse fields they lack. */
    size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? offsetof(struct ruleset_attr, scoped) : offsetof(struct ruleset_attr, handled_access_net);
    int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) return fail("landlock_create_ruleset");
    for (int i = 1; i + 1 < command; i += 2) {
      uint64_t rights = strcmp(argv[i], "--rw") == 0 ? handled : READ_RIGHTS;
      if (add_path(ruleset, argv[i + 1], rights) != 0) return fail(argv[i + 1]);
    }
    /* Without CAP_SYS_ADMIN (a service that is not root), the kernel asks for no_new_privs first. */
    if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) {
      if (errno != EPERM || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(__NR_landlock_restrict_self, ruleset, 0) != 0)
        return fail("landlock_restrict_self");
    }
    close(ruleset);
  }
  execv(argv[command], argv + command);
  return fail(argv[command]);
}
