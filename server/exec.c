/* The exec service: a program per client, its stdin and stdout relayed (SPEC 10). */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "channel.h"
#include "client.h"
#include "exec.h"
#include "log.h"
#include "relay.h"
#include "server.h"
#include "service.h"

#define EXEC_STDERR_MAX	200	/* a stderr line's bytes in the log (SPEC 10) */
#define EXEC_KILL_MS	1000	/* SIGTERM, then SIGKILL this much later */
#define EXEC_EXIT_MS	1000	/* a program that closed stdout gets this to exit */
#define EXEC_PATH	"PATH=/usr/local/bin:/usr/bin:/bin"

/* mpserver's own binary, for user= (set by main); NULL in tests. */
static const char *exec_self;

/*
 * The programs running now, which their handler threads reap: an orphan
 * that left its program's group (setsid) comes back to us, the child
 * subreaper, and is reaped by exec_reap_orphans instead. Spawning holds
 * the lock shared, the orphan reaper exclusively, so a program that exits
 * at once is never taken for an orphan before it is listed.
 */
static pthread_rwlock_t exec_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t exec_list_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *exec_pids;
static size_t exec_npids, exec_maxpids;

/* One client's program. */
struct exec {
	pid_t		 ex_pid;	/* also its process group */
	int		 ex_stdin;	/* our ends: write */
	int		 ex_stdout;	/* read */
	int		 ex_stderr;	/* read */
	char		 ex_line[EXEC_STDERR_MAX + 1];
	size_t		 ex_linelen;
	bool		 ex_skipping;	/* the rest of an over-long line */
	struct client	*ex_client;
};

static int
exec_list_add(pid_t pid)
{
	pid_t *grown;

	pthread_mutex_lock(&exec_list_lock);
	if (exec_npids == exec_maxpids) {
		grown = realloc(exec_pids, (exec_maxpids * 2 + 16) *
		    sizeof *grown);
		if (grown == NULL) {
			pthread_mutex_unlock(&exec_list_lock);
			return -1;
		}
		exec_pids = grown;
		exec_maxpids = exec_maxpids * 2 + 16;
	}
	exec_pids[exec_npids++] = pid;
	pthread_mutex_unlock(&exec_list_lock);
	return 0;
}

static void
exec_list_remove(pid_t pid)
{
	size_t i;

	pthread_mutex_lock(&exec_list_lock);
	for (i = 0; i < exec_npids; i++) {
		if (exec_pids[i] == pid) {
			exec_pids[i] = exec_pids[--exec_npids];
			break;
		}
	}
	if (exec_npids == 0) {
		free(exec_pids);
		exec_pids = NULL;
		exec_maxpids = 0;
	}
	pthread_mutex_unlock(&exec_list_lock);
}

static bool
exec_listed(pid_t pid)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&exec_list_lock);
	for (i = 0; i < exec_npids && !found; i++)
		found = exec_pids[i] == pid;
	pthread_mutex_unlock(&exec_list_lock);
	return found;
}

/* Our children that are no running program: the orphans that came back. */
static size_t
exec_orphans(pid_t *out, size_t max)
{
	char path[320], buf[4096], *p, *end;
	struct dirent *de;
	size_t n = 0;
	ssize_t len;
	long pid;
	DIR *d;
	int fd;

	if ((d = opendir("/proc/self/task")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/children",
		    de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		len = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[len > 0 ? len : 0] = '\0';
		for (p = buf; n < max && (pid = strtol(p, &end, 10)) > 0;
		    p = end) {
			if (!exec_listed((pid_t)pid))
				out[n++] = (pid_t)pid;
		}
	}
	closedir(d);
	return n;
}

void
exec_reap_orphans(void)
{
	pid_t pids[256];
	size_t i, n;

	pthread_rwlock_wrlock(&exec_lock);
	n = exec_orphans(pids, 256);
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, WNOHANG);
	pthread_rwlock_unlock(&exec_lock);
}

void
exec_end_orphans(void)
{
	pid_t pids[256];
	size_t i, n;
	int tries;

	/* Ours to the end: SIGTERM, a second, SIGKILL, and every one reaped. */
	for (tries = 0; tries < 200 && (n = exec_orphans(pids, 256)) > 0;
	    tries++) {
		for (i = 0; i < n; i++) {
			if (waitpid(pids[i], NULL, WNOHANG) == 0)
				kill(pids[i], tries < 100 ? SIGTERM : SIGKILL);
		}
		poll(NULL, 0, 10);
	}
}

void
exec_set_self(const char *path)
{
	exec_self = path;
}

int
service_exec_check(const struct channel_conf *cc,
    const struct conf_defaults *cd, char **cause)
{
	struct stat st;
	const char *prog;

	if (cc->cc_argv == NULL || cc->cc_argv[0] == NULL)
		return cause_set(cause, "exec needs a program (-- PROGRAM "
		    "[ARG...])");
	prog = cc->cc_argv[0];
	if (prog[0] != '/')
		return cause_set(cause, "program \"%s\" is not an absolute path",
		    prog);
	if (stat(prog, &st) == -1)
		return cause_set(cause, "program \"%s\": %s", prog,
		    strerror(errno));
	if (!S_ISREG(st.st_mode) || access(prog, X_OK) == -1)
		return cause_set(cause, "program \"%s\" is not an executable "
		    "file", prog);
	if (cc->cc_user == NULL)
		return 0;
	if (getpwnam(cc->cc_user) == NULL)
		return cause_set(cause, "unknown user \"%s\"", cc->cc_user);
	if (cd != NULL && cd->cd_user != NULL &&
	    strcmp(cd->cd_user, cc->cc_user) != 0)
		return cause_set(cause, "user=\"%s\": with --user %s only that "
		    "user is allowed", cc->cc_user, cd->cd_user);
	if (geteuid() != 0 && getpwnam(cc->cc_user)->pw_uid != geteuid())
		return cause_set(cause, "user=\"%s\" needs mpserver to run as "
		    "root", cc->cc_user);
	return 0;
}

/* The UCSPI environment (tcpserver's), MPSERVER_CONN, then the line's env=. */
static char **
exec_environment(struct client *cl)
{
	const struct channel_conf *cc = &cl->cl_channel->ch_conf;
	struct sockaddr_storage local;
	socklen_t len = sizeof local;
	char host[NETADDR_STRLEN];
	size_t n = 0, i, extra = 0;
	char **env;

	while (cc->cc_env != NULL && cc->cc_env[extra] != NULL)
		extra++;
	if ((env = calloc(8 + extra, sizeof *env)) == NULL)
		return NULL;
	if (getsockname(cl->cl_fd, (struct sockaddr *)&local, &len) == -1)
		memset(&local, 0, sizeof local);
	netaddr_canonical(&local, NULL);
	env[n++] = strdup(EXEC_PATH);
	env[n++] = strdup("PROTO=TCP");
	netaddr_format_host((struct sockaddr *)&cl->cl_peer, host, sizeof host);
	asprintf(&env[n++], "TCPREMOTEIP=%s", host);
	asprintf(&env[n++], "TCPREMOTEPORT=%u",
	    netaddr_port((struct sockaddr *)&cl->cl_peer));
	netaddr_format_host((struct sockaddr *)&local, host, sizeof host);
	asprintf(&env[n++], "TCPLOCALIP=%s", host);
	asprintf(&env[n++], "TCPLOCALPORT=%u",
	    netaddr_port((struct sockaddr *)&local));
	asprintf(&env[n++], "MPSERVER_CONN=%llu",
	    (unsigned long long)cl->cl_id);
	for (i = 0; i < extra; i++)
		env[n++] = strdup(cc->cc_env[i]);
	return env;
}

static void
exec_free_strings(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* The program's argv: as the line gives it, or behind our own --exec-as. */
static char **
exec_argv(const struct channel_conf *cc, const char **path)
{
	size_t n = 0, i, k = 0;
	char **argv;

	while (cc->cc_argv[n] != NULL)
		n++;
	if ((argv = calloc(n + 5, sizeof *argv)) == NULL)
		return NULL;
	*path = cc->cc_argv[0];
	if (cc->cc_user != NULL) {
		*path = exec_self;
		argv[k++] = (char *)"mpserver";
		argv[k++] = (char *)EXEC_AS_FLAG;
		argv[k++] = cc->cc_user;
	}
	for (i = 0; i < n; i++)
		argv[k++] = cc->cc_argv[i];
	return argv;
}

/*
 * posix_spawn, never fork, in this threaded process: the child gets
 * default dispositions and an empty mask (handler threads block signals),
 * a process group of its own (so its children are signalled with it), and
 * no descriptor but 0, 1 and 2.
 */
static int
exec_spawn(struct exec *ex, struct client *cl, int in, int out, int err)
{
	const struct channel_conf *cc = &cl->cl_channel->ch_conf;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	const char *path;
	char **argv, **env;
	int error;

	argv = exec_argv(cc, &path);
	env = exec_environment(cl);
	if (argv == NULL || env == NULL) {
		free(argv);
		exec_free_strings(env);
		return ENOMEM;
	}
	if (path == NULL) {
		free(argv);
		exec_free_strings(env);
		return ENOEXEC;
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	pthread_rwlock_rdlock(&exec_lock);
	error = posix_spawn(&ex->ex_pid, path, &fa, &attr, argv, env);
	if (error == 0 && exec_list_add(ex->ex_pid) == -1) {
		/* Cannot follow it: end it at once, and reap it. */
		kill(ex->ex_pid, SIGKILL);
		waitpid(ex->ex_pid, NULL, 0);
		error = ENOMEM;
	}
	pthread_rwlock_unlock(&exec_lock);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	exec_free_strings(env);
	return error;
}

static void
exec_close(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/*
 * Before the accept line: pipes and the program. Out of descriptors or
 * processes is a refusal (reason resources); a program that cannot start
 * is the client's error, told in its close line.
 */
int
exec_start(struct client *cl)
{
	struct exec *ex;
	int fds[6], n, i, error;

	if ((ex = calloc(1, sizeof *ex)) == NULL)
		return REJECT_RESOURCES;
	ex->ex_client = cl;
	/* stdin, stdout, stderr: [0] is read, [1] written. */
	for (n = 0; n < 3; n++) {
		if (pipe2(fds + 2 * n, O_CLOEXEC) == -1)
			break;
	}
	if (n < 3) {
		for (i = 0; i < 2 * n; i++)
			close(fds[i]);
		free(ex);
		return REJECT_RESOURCES;
	}
	int *in = fds, *out = fds + 2, *err = fds + 4;

	error = exec_spawn(ex, cl, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	ex->ex_stdin = in[1];
	ex->ex_stdout = out[0];
	ex->ex_stderr = err[0];
	cl->cl_service_data = ex;
	if (error == EAGAIN || error == ENOMEM || error == EMFILE ||
	    error == ENFILE) {
		exec_close(&ex->ex_stdin);
		exec_close(&ex->ex_stdout);
		exec_close(&ex->ex_stderr);
		free(ex);
		cl->cl_service_data = NULL;
		return REJECT_RESOURCES;
	}
	if (error != 0) {
		ex->ex_pid = 0;
		snprintf(cl->cl_error, sizeof cl->cl_error, "cannot start %s: %s",
		    cl->cl_channel->ch_conf.cc_argv[0], strerror(error));
	}
	return REJECT_NONE;
}

/* One whole stderr line to the log, escaped and cut (SPEC 10). */
static void
exec_log_line(struct exec *ex)
{
	struct client *cl = ex->ex_client;
	struct logline l;

	if (log_enabled(LOG_WARN)) {
		log_begin(&l, LOG_WARN, "stderr");
		log_uint(&l, "port", cl->cl_channel->ch_port);
		log_str(&l, "service", cl->cl_channel->ch_service->svc_name);
		log_uint(&l, "conn", cl->cl_id);
		log_data_max(&l, "data", ex->ex_line, ex->ex_linelen,
		    EXEC_STDERR_MAX);
		log_end(&l);
	}
	ex->ex_linelen = 0;
}

/* Bytes of the program's stderr: split into lines, never sent to the client. */
static void
exec_stderr(void *arg, const char *buf, size_t n)
{
	struct exec *ex = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (!ex->ex_skipping || ex->ex_linelen > 0)
				exec_log_line(ex);
			ex->ex_skipping = false;
			continue;
		}
		if (ex->ex_skipping)
			continue;
		ex->ex_line[ex->ex_linelen++] = buf[i];
		if (ex->ex_linelen == EXEC_STDERR_MAX) {
			exec_log_line(ex);	/* cut; the rest of it is dropped */
			ex->ex_skipping = true;
		}
	}
}

/* What is left on stderr once the relay is over, without waiting for it. */
static void
exec_drain_stderr(struct exec *ex)
{
	char buf[1024];
	ssize_t n;

	if (ex->ex_stderr == -1)
		return;
	fcntl(ex->ex_stderr, F_SETFL, O_NONBLOCK);
	while ((n = read(ex->ex_stderr, buf, sizeof buf)) > 0)
		exec_stderr(ex, buf, (size_t)n);
	if (ex->ex_linelen > 0)
		exec_log_line(ex);
}

/* Reap what is already gone: the program, and its group's adopted orphans. */
static bool
exec_reap(struct exec *ex, int *status, bool *reaped)
{
	while (!*reaped && waitpid(ex->ex_pid, status, WNOHANG) == ex->ex_pid)
		*reaped = true;
	while (waitpid(-ex->ex_pid, NULL, WNOHANG) > 0)
		continue;
	/* Anything of its group still alive? */
	return kill(-ex->ex_pid, 0) == -1 && errno == ESRCH;
}

/* Wait up to ms for the whole group to be gone. */
static bool
exec_wait_gone(struct exec *ex, int *status, bool *reaped, long ms)
{
	for (; ms > 0; ms -= 10) {
		if (exec_reap(ex, status, reaped))
			return true;
		poll(NULL, 0, 10);
	}
	return exec_reap(ex, status, reaped);
}

/*
 * End the program and whatever it started: SIGTERM to its group, SIGKILL
 * a second later if anything is left, and every child reaped.
 */
static void
exec_finish(struct exec *ex, bool terminate, int *status)
{
	bool reaped = false;

	if (!terminate && exec_wait_gone(ex, status, &reaped, EXEC_EXIT_MS))
		return;
	if (!reaped || !exec_reap(ex, status, &reaped)) {
		kill(-ex->ex_pid, SIGTERM);
		if (!exec_wait_gone(ex, status, &reaped, EXEC_KILL_MS)) {
			kill(-ex->ex_pid, SIGKILL);
			while (!reaped && waitpid(ex->ex_pid, status, 0) ==
			    ex->ex_pid)
				reaped = true;
			exec_wait_gone(ex, status, &reaped, EXEC_KILL_MS);
		}
	}
}

/* Has the program exited? Looked at without reaping it (exec_finish reaps). */
static bool
exec_gone(void *arg)
{
	struct exec *ex = arg;
	siginfo_t si;

	memset(&si, 0, sizeof si);
	return waitid(P_PID, (id_t)ex->ex_pid, &si, WEXITED | WNOHANG |
	    WNOWAIT) == 0 && si.si_pid == ex->ex_pid;
}

static void
exec_status(struct client *cl, int status)
{
	if (WIFEXITED(status))
		cl->cl_exit = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		cl->cl_signal = WTERMSIG(status);
}

/* Relay the client to its program until the program's stdout closes, then reap. */
void
service_exec(struct client *cl)
{
	struct exec *ex = cl->cl_service_data;
	enum relay_end end;
	struct relay r;
	int status = 0;

	if (ex == NULL || ex->ex_pid == 0) {
		client_set_reason(cl, CLOSE_ERROR);
		goto out;
	}
	client_relay_init(cl, &r, ex->ex_stdout, ex->ex_stdin);
	r.r_peer_eof_ends = true;
	r.r_side = ex->ex_stderr;
	r.r_side_cb = exec_stderr;
	r.r_side_arg = ex;
	/* A child of the program may hold its stdout after it exits. */
	r.r_peer_gone = exec_gone;
	r.r_peer_gone_arg = ex;
	end = relay_run(&r);
	ex->ex_stdin = r.r_peer_out;	/* -1 if the relay closed it */
	exec_close(&ex->ex_stdin);
	exec_close(&ex->ex_stdout);
	exec_finish(ex, end != RELAY_DONE, &status);
	exec_list_remove(ex->ex_pid);
	exec_drain_stderr(ex);
	exec_status(cl, status);
	client_relay_ended(cl, &r, end, CLOSE_ERROR, "the program");
out:
	if (ex != NULL) {
		exec_close(&ex->ex_stdin);
		exec_close(&ex->ex_stdout);
		exec_close(&ex->ex_stderr);
		free(ex);
	}
	cl->cl_service_data = NULL;
}

/* mpserver --exec-as USER PROGRAM [ARG...]: become USER, then run PROGRAM. */
int
exec_as_main(int argc, char **argv)
{
	struct passwd *pw;

	if (argc < 4 || (pw = getpwnam(argv[2])) == NULL) {
		fprintf(stderr, "mpserver: %s: no such user\n", argc > 2 ?
		    argv[2] : "?");
		return 127;
	}
	/* Already that user (mpserver --user, or not root): nothing to change. */
	if ((geteuid() != pw->pw_uid || getegid() != pw->pw_gid) &&
	    (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)) {
		fprintf(stderr, "mpserver: cannot become %s: %s\n", pw->pw_name,
		    strerror(errno));
		return 127;
	}
	execv(argv[3], argv + 3);
	fprintf(stderr, "mpserver: cannot run %s: %s\n", argv[3],
	    strerror(errno));
	return 127;
}
