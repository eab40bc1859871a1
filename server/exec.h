/* The exec service's hooks beyond its table row: start-up and the --exec-as helper. */
#ifndef MPSERVER_EXEC_H
#define MPSERVER_EXEC_H

struct client;

/* Hidden first argument: mpserver --exec-as USER PROGRAM [ARG...] (for user=). */
#define EXEC_AS_FLAG "--exec-as"

/* mpserver's own binary, for user= to run through. */
void	exec_set_self(const char *path);
/* Before a client's accept line: its program; REJECT_NONE or REJECT_RESOURCES. */
int	exec_start(struct client *cl);
/* SIGCHLD: reap children that are no running program (orphans that left their group). */
void	exec_reap_orphans(void);
/* At exit: end and reap every such child, so none outlives mpserver. */
void	exec_end_orphans(void);
/* The body of --exec-as: become the user, then run the program. */
int	exec_as_main(int argc, char **argv);

#endif
