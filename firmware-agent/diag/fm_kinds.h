/* fm_kinds: every kind of fact, once (issue 21). A source puts facts of
 * these kinds and the rules read them; a kind spelled in the code that is
 * not in this list fails tests/check_kinds.sh (ctest check/kinds), on the
 * side that puts it and on the side that reads it, and a fact of a kind
 * not listed is refused where facts come from outside a source's own code
 * (check's gathering children: fm_gather). The fields of each are
 * documented with the source that puts them.
 *
 * X(kind, what it is) */
#ifndef FM_KINDS_H
#define FM_KINDS_H

#include <stdbool.h>

#define FM_KINDS(X)                                                                           \
	X("agent.state", "the agent's own state dir: writes failing, a file put aside (run)")  \
	X("apiserver.endpoint", "kube-apiserver reached or not (fm_apiserver)")                 \
	X("apiserver.version", "its /version")                                                  \
	X("apiserver.livez", "its /livez, failed checks named")                                 \
	X("apiserver.readyz", "its /readyz, failed checks named")                               \
	X("apiserver.auth", "whether the agent's credentials are taken")                        \
	X("apiserver.nodes", "the node list's summary")                                         \
	X("apiserver.pods", "the control-plane pods' summary")                                  \
	X("node", "one node of the apiserver's list")                                           \
	X("pod", "one control-plane pod of the apiserver's list")                               \
	X("cert", "a certificate's dates (fm_certs)")                                           \
	X("check.incomplete", "a source check cut at its deadline (fm_gather)")                 \
	X("cri.runtime", "the CRI runtime (containerd, CRI-O) reached or not (fm_cri)")        \
	X("cri.sandbox", "a control-plane pod's sandbox")                                       \
	X("cri.container", "a control-plane container")                                         \
	X("cri.stale_attempt", "an exited attempt beside a newer one of the same pod")          \
	X("cri.crashloop", "a container kubelet restarted repeatedly (from its attempt)")      \
	X("docker.daemon", "the Docker engine reached or not (fm_docker)")                      \
	X("docker.container", "a control-plane container")                                      \
	X("docker.stale_attempt", "an exited attempt beside a newer one of the same pod")       \
	X("docker.crashloop", "a container that exited repeatedly")                             \
	X("docker.exited", "the engine's container counts")                                     \
	X("docker.logs", "a container's logs that could not be read")                           \
	X("etcd.endpoint", "etcd reached or not (fm_etcd)")                                     \
	X("etcd.version", "its /version")                                                       \
	X("etcd.health", "its /health or /livez and /readyz")                                   \
	X("etcd.status", "its maintenance status: sizes, leader")                               \
	X("etcd.alarm", "a raised alarm (NOSPACE, CORRUPT)")                                    \
	X("etcd.members", "its member list")                                                    \
	X("etcd.masterleases", "kube-apiserver's master leases in it")                          \
	X("etcd.disk", "its WAL fsync and commit latencies (metrics)")                          \
	X("hal.board", "the board identified (fm_hal)")                                         \
	X("hal.thermal", "a thermal zone")                                                      \
	X("hal.cpufreq", "a CPU frequency policy")                                              \
	X("hal.throttle", "the firmware's under-voltage and throttling flags")                  \
	X("hal.memory", "memory, swap, the memory cgroup")                                      \
	X("hal.fs", "the filesystem holding a path the cluster needs")                          \
	X("hal.readonly", "a block-device mount that is read-only")                             \
	X("hal.ext4", "an ext4 filesystem's error counters")                                    \
	X("hal.blockdev", "a disk's I/O errors and wear")                                       \
	X("hal.clock", "the clock, its synchronisation, against the certificates")             \
	X("journal.match", "a log rule's hits in the journal (fm_journal)")                     \
	X("journal.source", "the journal follower's own state")                                 \
	X("kmsg.match", "a log rule's hits in the kernel log (fm_kmsg)")                        \
	X("kmsg.source", "the kernel log reader's own state")

/* Whether kind is one of FM_KINDS. */
bool fm_kind_known(const char *kind);

#endif
