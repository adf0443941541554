/*
 * webcast-confine: runs a command under a Landlock domain (Linux 5.13 and later) that lets it
 * read only the paths named with --ro, write only under those named with --rw, and (Linux 6.12
 * and later) neither connect to abstract UNIX sockets nor signal processes made outside it.
 *
 *   webcast-confine [--ro PATH]... [--rw PATH]... -- COMMAND [ARG]...
 *   webcast-confine --namespaces UID ROOT [--network] -- COMMAND [ARG]...
 *   webcast-confine --enter FD -- COMMAND [ARG]...
 *   webcast-confine --abi
 *
 * The cloud browser's launch runs it after its namespaces are set up and before it drops to the
 * browser's uid (cloud-browser.ts): code that got out of a page's sandbox into the browser's
 * processes then cannot read the node's world-readable files outside the system's own folders,
 * nor reach a UNIX socket in the abstract namespace. A domain holds across exec and setuid and
 * no process in it can leave it.
 *
 * With --namespaces it runs the command as root of a user namespace of its own, with mount, IPC
 * and PID namespaces of its own (and with --network a network namespace), where only ROOT (as 0)
 * and UID (as itself) exist: enough for browser-mounts.ts to build the browser a root of its own
 * and for setpriv to drop to UID. It is how a service without CAP_SYS_ADMIN (the systemd unit)
 * gives its browsers what root gives them with `unshare`. The namespace is made as UID, which
 * so owns it: a process of UID outside (the browser's slirp4netns, browser-network.ts) may join
 * its network namespace, and may enter it, where it can become ROOT, a uid that owns nothing,
 * and never the service. Writing a map of other uids than the writer's takes CAP_SETUID and
 * CAP_SETGID outside the namespace, which the unit has and which this process drops as soon as
 * the maps are written. The command runs as PID 2 of the new PID namespace under a PID 1 that
 * reaps orphans; the processes that wait are not dumpable (PID 1 has the node's root and working
 * folder), and all of it ends when this process ends.
 *
 * With --enter FD it joins the user namespace open at FD, which this process's uid owns, as its
 * root, with mount and PID namespaces of its own, and runs the command there: how the browser's
 * slirp4netns gets its root of its own under the unit (browser-network.ts).
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
#include <grp.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
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

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The effective set made whole again from the permitted one (a change of euid from 0 empties it). */
static int raise_effective(void) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) return -1;
  for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted;
  return (int)syscall(SYS_capset, &header, data);
}

static void drop_capabilities(void) {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
  syscall(SYS_capset, &header, data);
}

/* A wait status as a shell reports it. */
static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

static int wait_for(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 95;
  return exit_code(status);
}

/* PID 1 of the new PID namespace: runs the command and reaps whatever is orphaned under it. */
static int init_process(char **command) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pid_t main_pid = fork();
  if (main_pid < 0) return fail("fork");
  if (main_pid == 0) {
    execv(command[0], command);
    _exit(fail(command[0]));
  }
  drop_capabilities();
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid == main_pid) return exit_code(status);
    if (pid < 0 && errno != EINTR) return 95;
  }
}

static int parse_uid(const char *text, unsigned long *uid) {
  char *end;
  *uid = strtoul(text, &end, 10);
  return *text != '\0' && *end == '\0' && *uid != 0 && *uid <= 0xfffffffeUL && *uid != getuid();
}

/* PR_SET_PDEATHSIG is cleared by a change of credentials, and a process that switched users is
 * made non-dumpable by the kernel already: both are set again after each switch. */
static void after_switch(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Root of the user namespace this process is in (which it holds the capabilities of). */
static int become_root(void) {
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) return -1;
  after_switch();
  return 0;
}

/*
 * In namespaces just made or entered, as their root: mounts made from here on kept from the
 * node's, and the command run under a PID 1 of the new PID namespace.
 */
static int under_init(char **command) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return fail("mount --make-rprivate /");
  pid_t init = fork();
  if (init < 0) return fail("fork");
  if (init == 0) _exit(init_process(command));
  drop_capabilities();
  return wait_for(init);
}

/*
 * --enter FD: joins the user namespace open at FD, which this process's uid owns (a browser's,
 * made by --namespaces), as its root, with mount and PID namespaces of its own. It is how the
 * browser's slirp4netns gets a root of its own where the service has no CAP_SYS_ADMIN, while it
 * stays in the node's network namespace, where its sockets are its uid's, under the browser
 * firewall. What it may do there reaches no further than the browser's own namespaces.
 */
static int enter_namespace(const char *fd_text, char **command) {
  char *end;
  long fd = strtol(fd_text, &end, 10);
  if (*fd_text == '\0' || *end != '\0' || fd < 3 || fd > 1023) {
    fprintf(stderr, "webcast-confine: --enter needs an open file descriptor of a user namespace, not %s\n", fd_text);
    return 95;
  }
  if (setns((int)fd, CLONE_NEWUSER) != 0) return fail("enter the user namespace");
  close((int)fd);
  if (become_root() != 0) return fail("switch to the namespace's root");
  if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) return fail("unshare");
  return under_init(command);
}

static int own_namespaces(const char *uid_text, const char *root_text, int network, char **command) {
  unsigned long uid, root;
  if (!parse_uid(uid_text, &uid) || !parse_uid(root_text, &root) || root == uid) {
    fprintf(stderr, "webcast-confine: --namespaces needs two different uids other than 0 and this process's, not %s and %s\n", uid_text, root_text);
    return 95;
  }
  int ready[2], mapped[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(mapped, O_CLOEXEC) != 0) return fail("pipe");
  pid_t child = fork();
  if (child < 0) return fail("fork");
  if (child == 0) {
    close(ready[0]);
    close(mapped[1]);
    char byte = 1;
    /*
     * The user namespace is made as UID, so that UID owns it: slirp4netns, which runs as UID
     * (browser-network.ts), may then join its network namespace. Its root is ROOT, a uid of no
     * other process or file: a process of UID outside the namespace, which may enter it as its
     * owner, becomes no more than that there.
     */
    if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) _exit(fail("switch to the browser's uid"));
    after_switch();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | (network ? CLONE_NEWNET : 0)) != 0) _exit(fail("unshare"));
    if (write(ready[1], &byte, 1) != 1 || read(mapped[0], &byte, 1) != 1) _exit(95);
    if (become_root() != 0) _exit(fail("switch to the namespace's root"));
    _exit(under_init(command));
  }
  close(ready[1]);
  close(mapped[0]);
  char byte;
  if (read(ready[0], &byte, 1) != 1) return wait_for(child);
  /*
   * Writing the maps takes CAP_SYS_ADMIN over the namespace, which its owner has, and CAP_SETUID
   * and CAP_SETGID here for a map of other uids than the writer's: so they are written with UID as
   * the effective uid, keeping this process's capabilities.
   */
  uid_t self = geteuid();
  if (setresuid((uid_t)-1, uid, (uid_t)-1) != 0 || raise_effective() != 0) {
    int code = fail("act as the browser's uid");
    kill(child, SIGKILL);
    wait_for(child);
    return code;
  }
  char path[64], map[96];
  snprintf(map, sizeof map, "0 %lu 1\n%lu %lu 1\n", root, uid, uid);
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
  int ok = write_file(path, map) == 0;
  if (ok) snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
  ok = ok && write_file(path, map) == 0;
  if (!ok) {
    int code = fail(path);
    kill(child, SIGKILL);
    wait_for(child);
    return code;
  }
  drop_capabilities();
  if (setresuid((uid_t)-1, self, (uid_t)-1) != 0) return fail("setresuid");
  if (write(mapped[1], &byte, 1) != 1) return fail("pipe");
  close(mapped[1]);
  return wait_for(child);
}

int main(int argc, char **argv) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, CREATE_RULESET_VERSION);
  if (abi < 0) abi = 0;
  if (argc == 2 && strcmp(argv[1], "--abi") == 0) return printf("%ld\n", abi) < 0 ? 95 : 0;
  if (argc >= 5 && strcmp(argv[1], "--enter") == 0 && strcmp(argv[3], "--") == 0) return enter_namespace(argv[2], argv + 4);
  if (argc >= 6 && strcmp(argv[1], "--namespaces") == 0) {
    int network = strcmp(argv[4], "--network") == 0;
    if (strcmp(argv[4 + network], "--") == 0 && argc > 5 + network) return own_namespaces(argv[2], argv[3], network, argv + 5 + network);
  }

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
    fprintf(stderr, "usage: webcast-confine [--ro PATH]... [--rw PATH]... -- COMMAND [ARG]... | webcast-confine --namespaces UID ROOT [--network] -- COMMAND [ARG]... | webcast-confine --enter FD -- COMMAND [ARG]... | webcast-confine --abi\n");
    return 95;
  }

  /*
   * Nothing the browser runs may gain privileges (a setuid program): Chromium's sandbox uses user
   * namespaces, not its setuid helper. Without CAP_SYS_ADMIN the kernel also asks for it before
   * a Landlock domain.
   */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
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
    if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) return fail("landlock_restrict_self");
    close(ruleset);
  }
  execv(argv[command], argv + command);
  return fail(argv[command]);
}
