/* mpserver: one address, many TCP channels. Parse, bind all, serve, stop in order. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "activation.h"
#include "cause.h"
#include "channel.h"
#include "exec.h"
#include "log.h"
#include "options.h"
#include "server.h"
#include "service.h"

struct main_ctx {
	struct server		 m_server;
	struct event_base	*m_base;
	struct event		*m_drained;	/* the last client left */
	struct event		*m_grace;	/* --shutdown-grace ran out */
	int			 m_signals;	/* SIGINT/SIGTERM seen */
};

static const int main_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD };
#define MAIN_NSIGNALS (sizeof main_signals / sizeof main_signals[0])

/* Descriptors a client may hold: its socket, and a relay's second end or pipes. */
static unsigned
main_fds_per_client(const struct options *o)
{
	const struct conf_list *cl = &o->o_channels;
	unsigned most = 1;
	size_t i;

	for (i = 0; i < cl->cf_count; i++) {
		const char *name = service_table[cl->cf_channels[i].cc_service].
		    svc_name;

		if (strcmp(name, "exec") == 0)
			most = 4;
		else if (strcmp(name, "forward") == 0 && most < 2)
			most = 2;
	}
	return most;
}

/* Descriptors are our clients: take all the kernel lets us. */
static void
main_raise_nofile(const struct options *o)
{
	struct rlimit rl;
	/* A channel holds its socket, its base's epoll and signal pair. */
	rlim_t need = (rlim_t)o->o_max_clients * main_fds_per_client(o) +
	    4 * o->o_channels.cf_count + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need)
		log_msg(LOG_WARN, "nofile", "descriptor limit %llu is below the "
		    "%llu that --max-clients %u and %zu channels need; clients "
		    "beyond it wait in the backlog", (unsigned long long)
		    rl.rlim_cur, (unsigned long long)need, o->o_max_clients,
		    o->o_channels.cf_count);
}

/* After every port is bound: become --user, group first. */
static int
main_drop_privileges(const struct passwd *pw, char **cause)
{
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		return cause_set(cause, "cannot become user \"%s\": %s",
		    pw->pw_name, strerror(errno));
	}
	log_msg(LOG_INFO, "privileges", "running as user %s (uid %u, gid %u)",
	    pw->pw_name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

static void
main_announce(struct server *sv)
{
	struct channel *const *chs;
	struct logline l;
	size_t i, n;

	chs = server_channels(sv, &n);
	for (i = 0; i < n; i++) {
		printf("listening %s %s\n", chs[i]->ch_name,
		    chs[i]->ch_service->svc_name);
		if (!log_enabled(LOG_INFO))
			continue;
		log_begin(&l, LOG_INFO, "listen");
		if (chs[i]->ch_inherited)
			log_str(&l, "from", "systemd");
		log_str(&l, "addr", chs[i]->ch_name);
		log_uint(&l, "port", chs[i]->ch_port);
		log_str(&l, "service", chs[i]->ch_service->svc_name);
		log_end(&l);
	}
	server_channels_done(sv);
	printf("ready %zu channels\n", n);
	fflush(stdout);
	activation_notify("READY=1");
	if (log_enabled(LOG_INFO)) {
		log_begin(&l, LOG_INFO, "ready");
		log_uint(&l, "channels", n);
		log_str(&l, "version", MPSERVER_VERSION);
		log_end(&l);
	}
}

/* SIGUSR1: the STATS block, as one log line. */
static void
main_log_stats(struct server *sv)
{
	struct server_totals t;
	struct logline l;
	char key[32];
	int r;

	server_totals(sv, &t);
	log_begin(&l, LOG_INFO, "stats");
	log_uint(&l, "uptime_s", (unsigned long long)t.uptime_s);
	log_uint(&l, "clients_active", t.clients_active);
	log_uint(&l, "handler_threads", t.handler_threads);
	log_uint(&l, "channels", t.channels);
	log_uint(&l, "accepted", t.accepted);
	for (r = 0; r < REJECT_NREASONS; r++) {
		snprintf(key, sizeof key, "rejected_%s", reject_reason_names[r]);
		log_uint(&l, key, t.rejected[r]);
	}
	log_uint(&l, "bytes_in", t.bytes_in);
	log_uint(&l, "bytes_out", t.bytes_out);
	log_end(&l);
}

static void
main_drained(void *arg)
{
	struct main_ctx *m = arg;

	event_active(m->m_drained, 0, 0);
}

static void
main_drained_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(m->m_base);
}

static void
main_force(struct main_ctx *m, const char *why)
{
	log_msg(LOG_WARN, "shutdown", "%s: closing %u remaining clients", why,
	    server_active_clients(&m->m_server));
	server_force(&m->m_server);
}

static void
main_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	main_force(arg, "shutdown grace over");
}

/* SIGHUP: read the file again and apply it, all or nothing (SPEC 9). */
static void
main_reload(struct main_ctx *m)
{
	const struct options *o = m->m_server.sv_opts;
	struct server_reload sr;
	struct conf_list list;
	struct logline l;
	char *cause = NULL;

	if (o->o_config == NULL) {
		log_msg(LOG_INFO, "signal", "SIGHUP ignored: no --config file "
		    "to reload");
		return;
	}
	memset(&list, 0, sizeof list);
	if (options_reload(o, service_specs(), &list, &cause) == -1 ||
	    server_reload(&m->m_server, &list, &sr, &cause) == -1) {
		atomic_fetch_add(&m->m_server.sv_reloads_failed, 1);
		atomic_store(&m->m_server.sv_last_reload_ok, false);
		if (log_enabled(LOG_ERROR)) {
			log_begin(&l, LOG_ERROR, "reload");
			log_str(&l, "result", "failed");
			log_str(&l, "error", cause != NULL ? cause :
			    "out of memory");
			log_end(&l);
		}
		free(cause);
		conf_list_free(&list);
		return;
	}
	conf_list_free(&list);
	atomic_fetch_add(&m->m_server.sv_reloads_ok, 1);
	atomic_store(&m->m_server.sv_last_reload_ok, true);
	if (log_enabled(LOG_INFO)) {
		log_begin(&l, LOG_INFO, "reload");
		log_str(&l, "result", "ok");
		log_uint(&l, "added", sr.sr_added);
		log_uint(&l, "removed", sr.sr_removed);
		log_uint(&l, "changed", sr.sr_changed);
		log_uint(&l, "unchanged", sr.sr_unchanged);
		log_end(&l);
	}
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct timeval tv = { 0, 0 };

	(void)what;
	if (sig == SIGUSR1) {
		main_log_stats(&m->m_server);
		return;
	}
	if (sig == SIGCHLD) {
		exec_reap_orphans();
		return;
	}
	if (sig == SIGHUP) {
		main_reload(m);
		return;
	}
	if (m->m_signals++ > 0) {
		main_force(m, "second signal");
		return;
	}
	/* Listeners first: a log line must never delay freeing the ports. */
	server_shutdown(&m->m_server);
	tv.tv_sec = m->m_server.sv_opts->o_shutdown_grace;
	evtimer_add(m->m_grace, &tv);
	activation_notify("STOPPING=1");
	log_msg(LOG_INFO, "shutdown", "%s: listeners closed, %u clients "
	    "get %u s", strsignal((int)sig), server_active_clients(
	    &m->m_server), m->m_server.sv_opts->o_shutdown_grace);
}

/* Signals reach only the main thread, whose loop turns them into events. */
static int
main_loop(struct main_ctx *m)
{
	struct event *sigev[MAIN_NSIGNALS];
	sigset_t set;
	size_t i;

	m->m_drained = event_new(m->m_base, -1, 0, main_drained_cb, m);
	m->m_grace = evtimer_new(m->m_base, main_grace_cb, m);
	for (i = 0; i < MAIN_NSIGNALS; i++) {
		sigev[i] = evsignal_new(m->m_base, main_signals[i],
		    main_signal_cb, m);
		evsignal_add(sigev[i], NULL);
	}
	pthread_mutex_lock(&m->m_server.sv_lock);
	m->m_server.sv_drained_cb = main_drained;
	m->m_server.sv_drained_arg = m;
	pthread_mutex_unlock(&m->m_server.sv_lock);
	sigemptyset(&set);
	for (i = 0; i < MAIN_NSIGNALS; i++)
		sigaddset(&set, main_signals[i]);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	event_base_dispatch(m->m_base);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < MAIN_NSIGNALS; i++)
		event_free(sigev[i]);
	event_free(m->m_drained);
	event_free(m->m_grace);
	return 0;
}

/* libevent's own messages go through our logger, as events of their own. */
static void
main_libevent_log(int severity, const char *msg)
{
	int level = severity >= EVENT_LOG_ERR ? LOG_ERROR :
	    severity == EVENT_LOG_WARN ? LOG_WARN : LOG_DEBUG;

	log_msg(level, "libevent", "%s", msg);
}

/* A can't-happen inside libevent: say so, then abort rather than exit(). */
static void
main_libevent_fatal(int err)
{
	log_msg(LOG_ERROR, "libevent", "fatal error %d, aborting", err);
	log_async_stop(1000);
	abort();
}

static int
main_usage_error(char *cause)
{
	fprintf(stderr, "mpserver: %s\n", cause != NULL ? cause :
	    "out of memory");
	free(cause);
	return 2;
}

static int
main_check_config(struct options *opts)
{
	printf("config ok: %zu channels\n", opts->o_channels.cf_count);
	options_free(opts);
	return 0;
}

/*
 * glibc reserves static TLS in every thread for dlmopen namespaces we never
 * use; with glibc.rtld.nns=1 a thread's TCB, TLS and first frames fit in
 * one page instead of two: 4 KiB less for each channel and each client
 * (docs/performance.md). The tunable is read only at start, so set it and
 * run ourselves again, once; not under valgrind, which would lose us.
 */
static void
main_reexec(char **argv)
{
	const char *old = getenv("GLIBC_TUNABLES"), *pre = getenv("LD_PRELOAD");
	char self[PATH_MAX], *tunables;

	if ((old != NULL && strstr(old, "glibc.rtld.nns") != NULL) ||
	    getenv("MPSERVER_NO_REEXEC") != NULL ||
	    (pre != NULL && strstr(pre, "vgpreload") != NULL) ||
	    realpath("/proc/self/exe", self) == NULL)
		return;
	if (asprintf(&tunables, "%s%sglibc.rtld.nns=1", old != NULL ? old : "",
	    old != NULL && *old != '\0' ? ":" : "") == -1)
		return;
	setenv("GLIBC_TUNABLES", tunables, 1);
	free(tunables);
	execv(self, argv);
	/* Could not: run as we are. */
	if (old != NULL)
		setenv("GLIBC_TUNABLES", old, 1);
	else
		unsetenv("GLIBC_TUNABLES");
}

int
main(int argc, char **argv)
{
	static struct main_ctx m;
	static char self[PATH_MAX];
	struct passwd *pw = NULL;
	int *inherited = NULL, ninherited = 0;
	char **names = NULL;
	struct options opts;
	char *cause = NULL;
	sigset_t set;
	size_t i;

	if (argc > 1 && strcmp(argv[1], EXEC_AS_FLAG) == 0)
		return exec_as_main(argc, argv);
	main_reexec(argv);
	switch (options_parse(argc, argv, service_specs(), SERVICE_DEFAULT,
	    &opts, &cause)) {
	case OPTIONS_ERROR:
		options_free(&opts);
		return main_usage_error(cause);
	case OPTIONS_HELP:
		options_usage(stdout, service_specs());
		options_free(&opts);
		return 0;
	case OPTIONS_VERSION:
		printf("mpserver %s\n", MPSERVER_VERSION);
		options_free(&opts);
		return 0;
	}
	if (opts.o_user != NULL && (pw = getpwnam(opts.o_user)) == NULL) {
		cause_set(&cause, "unknown user \"%s\"", opts.o_user);
		options_free(&opts);
		return main_usage_error(cause);
	}
	if (opts.o_check_config)
		return main_check_config(&opts);
	log_init(opts.o_log_level, opts.o_log_format, STDERR_FILENO);
	event_set_log_callback(main_libevent_log);
	event_set_fatal_callback(main_libevent_fatal);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	main_raise_nofile(&opts);
	/* exec's programs: their orphans come to us, to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (realpath("/proc/self/exe", self) != NULL)
		exec_set_self(self);

	/* Every thread started from here on inherits these signals blocked. */
	sigemptyset(&set);
	for (i = 0; i < MAIN_NSIGNALS; i++)
		sigaddset(&set, main_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((ninherited = activation_listen_fds(&inherited, &names, &cause)) ==
	    -1 ||
	    server_open(&m.m_server, &opts, inherited, ninherited, &cause) ==
	    -1 ||
	    (pw != NULL && main_drop_privileges(pw, &cause) == -1) ||
	    (m.m_base = event_base_new()) == NULL ||
	    server_start(&m.m_server, &cause) == -1) {
		fprintf(stderr, "mpserver: %s\n", cause != NULL ? cause :
		    "cannot start");
		free(cause);
		if (m.m_server.sv_channels != NULL) {
			server_shutdown(&m.m_server);
			server_free(&m.m_server);
		}
		if (m.m_base != NULL)
			event_base_free(m.m_base);
		activation_free(inherited, names, ninherited);
		options_free(&opts);
		return 1;
	}
	/* From here on a stalled stderr costs log lines, never service. */
	log_async_start(0);
	if (ninherited > 0)
		log_msg(LOG_INFO, "activation", "adopted %d listening sockets "
		    "from systemd instead of binding", ninherited);
	activation_free(inherited, names, ninherited);
	main_announce(&m.m_server);
	main_loop(&m);

	/* Listeners are closed and clients drained or cut: join and free. */
	server_wait(&m.m_server, -1);
	server_free(&m.m_server);
	exec_end_orphans();	/* the process ends only after its last child */
	event_base_free(m.m_base);
	log_msg(LOG_INFO, "stop", "all threads joined, exiting");
	log_async_stop(1000);
	options_free(&opts);
	libevent_global_shutdown();
	return 0;
}
