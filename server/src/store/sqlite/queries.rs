//! The SQLite store's operations, each a synchronous call on the
//! connection (the store runs it on a blocking thread); every write is one
//! `BEGIN IMMEDIATE` transaction.

use crate::limits::{AttemptCounts, LoginLimit};
use crate::store::{
    AttemptId, Author, Channel, Family, Message, Millis, Owner, ProfileCheck, QueueEntry, Rotation,
    StoreResult,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

pub(super) fn immediate(c: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
}

pub(super) fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        author: Author::parse(&row.get::<_, String>(1)?),
        text: row.get(2)?,
        created_at: row.get(3)?,
        client_id: row.get(4)?,
        channel: Channel::parse(&row.get::<_, String>(5)?),
    })
}

pub(super) fn family_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Family> {
    Ok(Family {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        user_id: row.get(2)?,
        expires_at: row.get(3)?,
        revoked_at: row.get(4)?,
        client_id: row.get(5)?,
        jkt: row.get("jkt")?,
    })
}

const FAMILY_COLUMNS: &str =
    "f.id, f.customer_id, f.user_id, f.expires_at, f.revoked_at, f.client_id, f.jkt";
const MESSAGE_COLUMNS: &str = "id, author, text, created_at, client_id, channel";

pub(super) fn meta_or_insert(
    c: &mut Connection,
    key: &str,
    candidate: &[u8],
) -> StoreResult<Vec<u8>> {
    let tx = immediate(c)?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, candidate],
    )?;
    let value = tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?;
    tx.commit()?;
    Ok(value)
}

pub(super) fn append(
    c: &mut Connection,
    owner: &Owner,
    author: Author,
    text: &str,
    client_id: Option<&str>,
    channel: Channel,
    now: Millis,
) -> StoreResult<(Message, bool)> {
    let tx = immediate(c)?;
    if let Some(cid) = client_id {
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE owner_kind = ?1 AND owner = ?2 AND client_id = ?3"
                ),
                params![owner.kind(), owner.key(), cid],
                message_from_row,
            )
            .optional()?;
        if let Some(m) = existing {
            return Ok((m, false));
        }
    }
    tx.execute(
        "INSERT INTO messages (owner_kind, owner, author, text, created_at, client_id, channel)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            owner.kind(),
            owner.key(),
            author.as_str(),
            text,
            now,
            client_id,
            channel.as_str()
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok((
        Message {
            id,
            author,
            text: text.to_owned(),
            created_at: now,
            client_id: client_id.map(str::to_owned),
            channel,
        },
        true,
    ))
}

pub(super) fn list(c: &mut Connection, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, author, text, created_at, client_id, channel FROM (
           SELECT * FROM messages WHERE owner_kind = ?1 AND owner = ?2
           ORDER BY created_at DESC, id DESC LIMIT ?3)
         ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(
        params![owner.kind(), owner.key(), limit as i64],
        message_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn fold_anonymous(
    c: &mut Connection,
    anonymous_id: &str,
    customer_id: &str,
) -> StoreResult<usize> {
    let tx = immediate(c)?;
    // A send retried across login may already be in the customer's
    // history: keep that copy, drop the anonymous one.
    tx.execute(
        "DELETE FROM messages
         WHERE owner_kind = 'anonymous' AND owner = ?1 AND client_id IN (
           SELECT client_id FROM messages
           WHERE owner_kind = 'customer' AND owner = ?2 AND client_id IS NOT NULL)",
        params![anonymous_id, customer_id],
    )?;
    let moved = tx.execute(
        "UPDATE messages SET owner_kind = 'customer', owner = ?2
         WHERE owner_kind = 'anonymous' AND owner = ?1",
        params![anonymous_id, customer_id],
    )?;
    tx.commit()?;
    Ok(moved)
}

pub(super) fn create_family(
    c: &mut Connection,
    family: &Family,
    token_hash: &[u8],
    now: Millis,
) -> StoreResult<()> {
    let tx = immediate(c)?;
    tx.execute(
        "INSERT INTO families (id, customer_id, user_id, created_at, expires_at, client_id, jkt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            family.id,
            family.customer_id,
            family.user_id,
            now,
            family.expires_at,
            family.client_id,
            family.jkt
        ],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES (?1, ?2, ?3)",
        params![token_hash, family.id, now],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn rotate(
    c: &mut Connection,
    token_hash: &[u8],
    new_hash: &[u8],
    now: Millis,
) -> StoreResult<Rotation> {
    // Immediate: the read and the write below are one step for every other
    // connection and process, so two presentations cannot both see the
    // token unspent.
    let tx = immediate(c)?;
    let found = tx
        .query_row(
            &format!(
                "SELECT {FAMILY_COLUMNS}, r.spent_at FROM refresh_tokens r
                 JOIN families f ON f.id = r.family WHERE r.hash = ?1"
            ),
            [token_hash],
            |row| Ok((family_from_row(row)?, row.get::<_, Option<Millis>>(7)?)),
        )
        .optional()?;
    let Some((family, spent_at)) = found else {
        return Ok(Rotation::Refused);
    };
    if family.revoked_at.is_some() || now >= family.expires_at {
        return Ok(Rotation::Refused);
    }
    if spent_at.is_some() {
        // A rotated token came back: someone holds a copy. Revoke the
        // whole family, so neither copy works any more.
        tx.execute(
            "UPDATE families SET revoked_at = ?2 WHERE id = ?1",
            params![family.id, now],
        )?;
        tx.commit()?;
        return Ok(Rotation::Reused(Family {
            revoked_at: Some(now),
            ..family
        }));
    }
    tx.execute(
        "UPDATE refresh_tokens SET spent_at = ?2 WHERE hash = ?1",
        params![token_hash, now],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES (?1, ?2, ?3)",
        params![new_hash, family.id, now],
    )?;
    tx.commit()?;
    Ok(Rotation::Rotated(family))
}

pub(super) fn refresh_token(
    c: &mut Connection,
    token_hash: &[u8],
) -> StoreResult<Option<(Family, bool)>> {
    Ok(c.query_row(
        &format!(
            "SELECT {FAMILY_COLUMNS}, r.spent_at IS NOT NULL FROM refresh_tokens r
             JOIN families f ON f.id = r.family WHERE r.hash = ?1"
        ),
        [token_hash],
        |row| Ok((family_from_row(row)?, row.get::<_, bool>(7)?)),
    )
    .optional()?)
}

pub(super) fn family(c: &mut Connection, id: &str) -> StoreResult<Option<Family>> {
    Ok(c.query_row(
        &format!("SELECT {FAMILY_COLUMNS} FROM families f WHERE f.id = ?1"),
        [id],
        family_from_row,
    )
    .optional()?)
}

pub(super) fn revoke_family(c: &mut Connection, id: &str, now: Millis) -> StoreResult<bool> {
    let n = c.execute(
        "UPDATE families SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(n > 0)
}

pub(super) fn login_attempt(
    c: &mut Connection,
    name: &str,
    limit: LoginLimit,
    now: Millis,
) -> StoreResult<Result<AttemptId, u64>> {
    let tx = immediate(c)?;
    tx.execute(
        "DELETE FROM login_attempts WHERE at <= ?1",
        [LoginLimit::forgotten_before(now)],
    )?;
    let counts = tx.query_row(
        "SELECT count(*) FILTER (WHERE name = ?1), min(at) FILTER (WHERE name = ?1),
                count(*), min(at)
         FROM login_attempts",
        [name],
        |r| {
            Ok(AttemptCounts {
                own: r.get::<_, i64>(0)? as u64,
                own_oldest: r.get(1)?,
                total: r.get::<_, i64>(2)? as u64,
                oldest: r.get(3)?,
            })
        },
    )?;
    if let Err(wait) = limit.check(&counts, now) {
        tx.commit()?;
        return Ok(Err(wait));
    }
    tx.execute(
        "INSERT INTO login_attempts (name, at) VALUES (?1, ?2)",
        params![name, now],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(Ok(AttemptId(id)))
}

pub(super) fn login_succeeded(c: &mut Connection, attempt: AttemptId) -> StoreResult<()> {
    c.execute("DELETE FROM login_attempts WHERE id = ?1", [attempt.0])?;
    Ok(())
}

pub(super) fn queue(c: &mut Connection, limit: usize) -> StoreResult<Vec<QueueEntry>> {
    let mut stmt = c.prepare_cached(crate::store::QUEUE_SQL)?;
    let rows = stmt.query_map([limit as i64], |row| {
        let kind: String = row.get(6)?;
        let key: String = row.get(7)?;
        Ok(QueueEntry {
            owner: Owner::from_parts(&kind, &key).unwrap_or(Owner::Anonymous(key)),
            last: message_from_row(row)?,
            unread: row.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn mark_read(c: &mut Connection, owner: &Owner, up_to: i64) -> StoreResult<()> {
    c.execute(
        "INSERT INTO conversation_reads (owner_kind, owner, read_up_to) VALUES (?1, ?2, ?3)
         ON CONFLICT (owner_kind, owner)
         DO UPDATE SET read_up_to = max(read_up_to, excluded.read_up_to)",
        params![owner.kind(), owner.key(), up_to],
    )?;
    Ok(())
}

pub(super) fn put_profile_check(c: &mut Connection, p: &ProfileCheck) -> StoreResult<()> {
    c.execute(
        "INSERT INTO profiles (customer_id, sdk_customer_id, verified, reason, data, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (customer_id) DO UPDATE SET sdk_customer_id = excluded.sdk_customer_id,
           verified = excluded.verified, reason = excluded.reason, data = excluded.data,
           checked_at = excluded.checked_at",
        params![
            p.customer_id,
            p.sdk_customer_id,
            p.verified,
            p.reason,
            p.data,
            p.checked_at
        ],
    )?;
    Ok(())
}

pub(super) fn profile_check(
    c: &mut Connection,
    customer_id: &str,
) -> StoreResult<Option<ProfileCheck>> {
    Ok(c.query_row(
        "SELECT customer_id, sdk_customer_id, verified, reason, data, checked_at
         FROM profiles WHERE customer_id = ?1",
        [customer_id],
        |r| {
            Ok(ProfileCheck {
                customer_id: r.get(0)?,
                sdk_customer_id: r.get(1)?,
                verified: r.get(2)?,
                reason: r.get(3)?,
                data: r.get(4)?,
                checked_at: r.get(5)?,
            })
        },
    )
    .optional()?)
}

pub(super) fn agent_seen(c: &mut Connection, agent: &str, now: Millis) -> StoreResult<()> {
    c.execute(
        "INSERT INTO desk_presence (agent, seen_at) VALUES (?1, ?2)
         ON CONFLICT (agent) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
        params![agent, now],
    )?;
    Ok(())
}

pub(super) fn agents_seen_since(c: &mut Connection, since: Millis) -> StoreResult<i64> {
    Ok(c.query_row(
        "SELECT count(*) FROM desk_presence WHERE seen_at >= ?1",
        [since],
        |r| r.get(0),
    )?)
}

pub(super) fn first_proof_use(
    c: &mut Connection,
    id: &str,
    until: Millis,
    now: Millis,
) -> StoreResult<bool> {
    let tx = immediate(c)?;
    tx.execute("DELETE FROM dpop_proofs WHERE until_ms <= ?1", [now])?;
    let added = tx.execute(
        "INSERT OR IGNORE INTO dpop_proofs (id, until_ms) VALUES (?1, ?2)",
        params![id, until],
    )?;
    tx.commit()?;
    Ok(added == 1)
}
