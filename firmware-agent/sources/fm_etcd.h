/* fm_etcd: what etcd on 2379 says about itself, over mTLS, as facts.
 *
 * Facts (all with id = the client URL):
 *   etcd.endpoint  state (ok / refused / timeout / tls ...), reason, tls,
 *                  tls_version, elapsed_ms (first request, handshake included),
 *                  origin (where the endpoint was found)
 *   etcd.health    healthy, reason ("RAFT NO LEADER", "ALARM NOSPACE" ...)
 *   etcd.version   server, cluster
 *   etcd.status    version, db_size, db_size_in_use, member_id, leader,
 *                  is_leader, raft_term, raft_index (or state + reason)
 */
#ifndef FM_ETCD_H
#define FM_ETCD_H

#include "fm_discover.h"
#include "fm_facts.h"
#include "fm_loop.h"
#include "fm_probe.h"

/* Asks etcd at ep (one connection, kept alive; each request within
 * co->timeout_ms) and puts what it learnt into facts. Returns 0 when etcd
 * answered and is healthy, -1 otherwise (the facts say why). */
int fm_etcd_collect(struct fm_loop *loop, const struct fm_endpoint *ep,
		    const struct fm_collect_opts *co, struct fm_facts *facts);

#endif
