//! The PostgreSQL store's operations: [`Store`] for [`PgStore`], each call
//! on a pooled connection, and the statements and row readers they share.

use super::{PgStore, LOGIN_LOCK};
use crate::limits::{AttemptCounts, LoginLimit};
use crate::store::{
    AttemptId, Author, Channel, Family, Message, Millis, Owner, ProfileCheck, QueueEntry, Rotation,
    Store, StoreError, StoreResult,
};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

/// Serialises, until the transaction ends, everything else that takes the
/// same conversation's lock (on any instance).
async fn lock_conversation(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: &str,
    key: &str,
) -> StoreResult<()> {
    let st = tx
        .prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .await?;
    tx.execute(&st, &[&format!("{kind}:{key}")]).await?;
    Ok(())
}

fn message_from_row(row: &Row) -> Message {
    Message {
        id: row.get(0),
        author: Author::parse(row.get(1)),
        text: row.get(2),
        created_at: row.get(3),
        client_id: row.get(4),
        channel: Channel::parse(row.get(5)),
    }
}

fn family_from_row(row: &Row) -> Family {
    Family {
        id: row.get(0),
        customer_id: row.get(1),
        user_id: row.get(2),
        expires_at: row.get(3),
        revoked_at: row.get(4),
        client_id: row.get(5),
        jkt: row.get("jkt"),
    }
}

const TOKEN_WITH_FAMILY: &str = "SELECT f.id, f.customer_id, f.user_id, f.expires_at, f.revoked_at,
        f.client_id, r.spent_at, f.jkt FROM refresh_tokens r JOIN families f ON f.id = r.family
        WHERE r.hash = $1";

async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Option<Row>> {
    let st = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&st, params).await?)
}

async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<u64> {
    let st = client.prepare_cached(sql).await?;
    Ok(client.execute(&st, params).await?)
}

#[async_trait]
impl Store for PgStore {
    async fn meta_or_insert(&self, key: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        let client = self.pool.get().await?;
        // A concurrent insert of the same key makes this one wait for it and
        // do nothing; the read that follows (a new snapshot) sees the winner.
        execute(
            &client,
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &candidate],
        )
        .await?;
        let row = query_opt(&client, "SELECT value FROM meta WHERE key = $1", &[&key]).await?;
        row.map(|r| r.get(0))
            .ok_or_else(|| StoreError(format!("meta {key} vanished")))
    }

    async fn append_on(
        &self,
        owner: &Owner,
        author: Author,
        text: &str,
        client_id: Option<&str>,
        channel: Channel,
        now: Millis,
    ) -> StoreResult<(Message, bool)> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(cid) = client_id {
            lock_conversation(&tx, owner.kind(), owner.key()).await?;
            let existing = query_opt(
                &tx,
                "SELECT id, author, text, created_at, client_id, channel FROM messages
                 WHERE owner_kind = $1 AND owner = $2 AND client_id = $3",
                &[&owner.kind(), &owner.key(), &cid],
            )
            .await?;
            if let Some(row) = existing {
                return Ok((message_from_row(&row), false));
            }
        }
        let row = query_opt(
            &tx,
            "INSERT INTO messages (owner_kind, owner, author, text, created_at, client_id, channel)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &owner.kind(),
                &owner.key(),
                &author.as_str(),
                &text,
                &now,
                &client_id,
                &channel.as_str(),
            ],
        )
        .await?
        .ok_or_else(|| StoreError("INSERT returned no id".into()))?;
        tx.commit().await?;
        Ok((
            Message {
                id: row.get(0),
                author,
                text: text.to_owned(),
                created_at: now,
                client_id: client_id.map(str::to_owned),
                channel,
            },
            true,
        ))
    }

    async fn list(&self, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>> {
        let client = self.pool.get().await?;
        let st = client
            .prepare_cached(
                "SELECT id, author, text, created_at, client_id, channel FROM (
                   SELECT id, author, text, created_at, client_id, channel FROM messages
                   WHERE owner_kind = $1 AND owner = $2
                   ORDER BY created_at DESC, id DESC LIMIT $3) newest
                 ORDER BY created_at, id",
            )
            .await?;
        let rows = client
            .query(&st, &[&owner.kind(), &owner.key(), &(limit as i64)])
            .await?;
        Ok(rows.iter().map(message_from_row).collect())
    }

    async fn fold_anonymous(&self, anonymous_id: &str, customer_id: &str) -> StoreResult<usize> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // "anonymous:…" before "customer:…", like every other taker of both.
        lock_conversation(&tx, "anonymous", anonymous_id).await?;
        lock_conversation(&tx, "customer", customer_id).await?;
        // A send retried across login may already be in the customer's
        // history: keep that copy, drop the anonymous one.
        execute(
            &tx,
            "DELETE FROM messages
             WHERE owner_kind = 'anonymous' AND owner = $1 AND client_id IN (
               SELECT client_id FROM messages
               WHERE owner_kind = 'customer' AND owner = $2 AND client_id IS NOT NULL)",
            &[&anonymous_id, &customer_id],
        )
        .await?;
        let moved = execute(
            &tx,
            "UPDATE messages SET owner_kind = 'customer', owner = $2
             WHERE owner_kind = 'anonymous' AND owner = $1",
            &[&anonymous_id, &customer_id],
        )
        .await?;
        tx.commit().await?;
        Ok(moved as usize)
    }

    async fn create_family(
        &self,
        family: &Family,
        token_hash: &[u8],
        now: Millis,
    ) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        execute(
            &tx,
            "INSERT INTO families (id, customer_id, user_id, created_at, expires_at, client_id, jkt)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &family.id,
                &family.customer_id,
                &family.user_id,
                &now,
                &family.expires_at,
                &family.client_id,
                &family.jkt,
            ],
        )
        .await?;
        execute(
            &tx,
            "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES ($1, $2, $3)",
            &[&token_hash, &family.id, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rotate(
        &self,
        token_hash: &[u8],
        new_hash: &[u8],
        now: Millis,
    ) -> StoreResult<Rotation> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Spends the token only if nobody has: a concurrent presentation
        // waits on the row lock, then re-reads spent_at and matches nothing.
        let spent = query_opt(
            &tx,
            "UPDATE refresh_tokens r SET spent_at = $2 FROM families f
             WHERE r.hash = $1 AND r.spent_at IS NULL AND f.id = r.family
               AND f.revoked_at IS NULL AND f.expires_at > $2
             RETURNING f.id, f.customer_id, f.user_id, f.expires_at, f.revoked_at, f.client_id, f.jkt",
            &[&token_hash, &now],
        )
        .await?;
        if let Some(row) = spent {
            let family = family_from_row(&row);
            execute(
                &tx,
                "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES ($1, $2, $3)",
                &[&new_hash, &family.id, &now],
            )
            .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(family));
        }
        let Some(row) = query_opt(&tx, TOKEN_WITH_FAMILY, &[&token_hash]).await? else {
            return Ok(Rotation::Refused);
        };
        let family = family_from_row(&row);
        let spent_at: Option<Millis> = row.get(6);
        if family.revoked_at.is_some() || now >= family.expires_at || spent_at.is_none() {
            return Ok(Rotation::Refused);
        }
        // A rotated token came back: someone holds a copy. Revoke the whole
        // family, so neither copy works any more.
        execute(
            &tx,
            "UPDATE families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&family.id, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(Rotation::Reused(Family {
            revoked_at: Some(now),
            ..family
        }))
    }

    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>> {
        let client = self.pool.get().await?;
        let row = query_opt(&client, TOKEN_WITH_FAMILY, &[&token_hash]).await?;
        Ok(row.map(|r| {
            let spent: Option<Millis> = r.get(6);
            (family_from_row(&r), spent.is_some())
        }))
    }

    async fn family(&self, id: &str) -> StoreResult<Option<Family>> {
        let client = self.pool.get().await?;
        let row = query_opt(
            &client,
            "SELECT id, customer_id, user_id, expires_at, revoked_at, client_id, jkt
             FROM families WHERE id = $1",
            &[&id],
        )
        .await?;
        Ok(row.as_ref().map(family_from_row))
    }

    async fn revoke_family(&self, id: &str, now: Millis) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        let n = execute(
            &client,
            "UPDATE families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
        )
        .await?;
        Ok(n > 0)
    }

    async fn login_attempt(
        &self,
        name: &str,
        limit: LoginLimit,
        now: Millis,
    ) -> StoreResult<Result<AttemptId, u64>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One lock for all names: the total cap counts every name, and
        // logins are rare next to chat traffic.
        execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&LOGIN_LOCK]).await?;
        execute(
            &tx,
            "DELETE FROM login_attempts WHERE at <= $1",
            &[&LoginLimit::forgotten_before(now)],
        )
        .await?;
        let counts = query_opt(
            &tx,
            "SELECT count(*) FILTER (WHERE name = $1), min(at) FILTER (WHERE name = $1),
                    count(*), min(at)
             FROM login_attempts",
            &[&name],
        )
        .await?
        .map(|r| AttemptCounts {
            own: r.get::<_, i64>(0) as u64,
            own_oldest: r.get(1),
            total: r.get::<_, i64>(2) as u64,
            oldest: r.get(3),
        })
        .unwrap_or_default();
        if let Err(wait) = limit.check(&counts, now) {
            tx.commit().await?;
            return Ok(Err(wait));
        }
        let row = query_opt(
            &tx,
            "INSERT INTO login_attempts (name, at) VALUES ($1, $2) RETURNING id",
            &[&name, &now],
        )
        .await?
        .ok_or_else(|| StoreError("INSERT returned no id".into()))?;
        tx.commit().await?;
        Ok(Ok(AttemptId(row.get(0))))
    }

    async fn login_succeeded(&self, attempt: AttemptId) -> StoreResult<()> {
        let client = self.pool.get().await?;
        execute(
            &client,
            "DELETE FROM login_attempts WHERE id = $1",
            &[&attempt.0],
        )
        .await?;
        Ok(())
    }

    async fn first_proof_use(&self, id: &str, until: Millis, now: Millis) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        execute(
            &client,
            "DELETE FROM dpop_proofs WHERE until_ms <= $1",
            &[&now],
        )
        .await?;
        // The primary key decides between two instances inserting at once.
        let added = execute(
            &client,
            "INSERT INTO dpop_proofs (id, until_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            &[&id, &until],
        )
        .await?;
        Ok(added == 1)
    }

    async fn queue(&self, limit: usize) -> StoreResult<Vec<QueueEntry>> {
        let client = self.pool.get().await?;
        let st = client.prepare_cached(crate::store::QUEUE_SQL).await?;
        let rows = client.query(&st, &[&(limit as i64)]).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let kind: &str = row.get(6);
                let key: String = row.get(7);
                QueueEntry {
                    owner: Owner::from_parts(kind, &key).unwrap_or(Owner::Anonymous(key)),
                    last: message_from_row(row),
                    unread: row.get(8),
                }
            })
            .collect())
    }

    async fn mark_read(&self, owner: &Owner, up_to: i64) -> StoreResult<()> {
        let client = self.pool.get().await?;
        execute(
            &client,
            "INSERT INTO conversation_reads (owner_kind, owner, read_up_to) VALUES ($1, $2, $3)
             ON CONFLICT (owner_kind, owner) DO UPDATE
             SET read_up_to = GREATEST(conversation_reads.read_up_to, excluded.read_up_to)",
            &[&owner.kind(), &owner.key(), &up_to],
        )
        .await?;
        Ok(())
    }

    async fn put_profile_check(&self, p: &ProfileCheck) -> StoreResult<()> {
        let client = self.pool.get().await?;
        execute(
            &client,
            "INSERT INTO profiles (customer_id, sdk_customer_id, verified, reason, data, checked_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (customer_id) DO UPDATE SET sdk_customer_id = excluded.sdk_customer_id,
               verified = excluded.verified, reason = excluded.reason, data = excluded.data,
               checked_at = excluded.checked_at",
            &[
                &p.customer_id,
                &p.sdk_customer_id,
                &p.verified,
                &p.reason,
                &p.data,
                &p.checked_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn profile_check(&self, customer_id: &str) -> StoreResult<Option<ProfileCheck>> {
        let client = self.pool.get().await?;
        let row = query_opt(
            &client,
            "SELECT customer_id, sdk_customer_id, verified, reason, data, checked_at
             FROM profiles WHERE customer_id = $1",
            &[&customer_id],
        )
        .await?;
        Ok(row.map(|r| ProfileCheck {
            customer_id: r.get(0),
            sdk_customer_id: r.get(1),
            verified: r.get(2),
            reason: r.get(3),
            data: r.get(4),
            checked_at: r.get(5),
        }))
    }

    async fn agent_seen(&self, agent: &str, now: Millis) -> StoreResult<()> {
        let client = self.pool.get().await?;
        execute(
            &client,
            "INSERT INTO desk_presence (agent, seen_at) VALUES ($1, $2)
             ON CONFLICT (agent) DO UPDATE
             SET seen_at = GREATEST(desk_presence.seen_at, excluded.seen_at)",
            &[&agent, &now],
        )
        .await?;
        Ok(())
    }

    async fn agents_seen_since(&self, since: Millis) -> StoreResult<i64> {
        let client = self.pool.get().await?;
        let row = query_opt(
            &client,
            "SELECT count(*) FROM desk_presence WHERE seen_at >= $1",
            &[&since],
        )
        .await?;
        Ok(row.map_or(0, |r| r.get(0)))
    }
}
