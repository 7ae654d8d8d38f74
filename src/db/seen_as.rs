//! "Seen as": the customer-visible words of the tickets the team linked to
//! a model as resolved by it or helped by it, which the search index keeps
//! with the model (its `seen_as` field) so that the next ticket worded the
//! same way finds the model even when it shares no word with it.
//!
//! Only what the requester could see goes in: the ticket's title, its
//! description and its public replies; never internal notes, never the
//! team's system entries. Tickets excluded from metrics (game days, tests)
//! are left out. Bounded per model: the [`PER_MODEL`] most recently linked
//! tickets, each cut to [`PER_TICKET_BYTES`].

use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// At most this many linked tickets per model (the most recently linked):
/// enough to hold the ways a problem is worded, few enough that a model
/// linked from thousands of tickets still indexes fast and its field stays
/// the size of a run-book.
pub const PER_MODEL: i64 = 30;

/// At most this much text of one ticket (cut at a character boundary): a
/// pasted log would otherwise outweigh every other ticket's words.
pub const PER_TICKET_BYTES: usize = 2_000;

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    model_id: i64,
    #[diesel(sql_type = Text)]
    text: String,
}

/// The "seen as" texts of these models: (model id, one ticket's public
/// text), most recently linked first.
pub async fn texts_for(
    conn: &mut AsyncPgConnection,
    models: &[i64],
) -> diesel::QueryResult<Vec<(i64, String)>> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT l.model_id, \
                concat_ws(E'\\n', t.title, NULLIF(t.description, ''), \
                  (SELECT string_agg(j.body, E'\\n' ORDER BY j.id) \
                     FROM journal_entries j \
                    WHERE j.ticket_id = t.id AND j.visibility = 'public' \
                      AND j.kind = 'reply' AND j.body <> '')) AS text \
           FROM (SELECT tm.model_id, tm.ticket_id, tm.created_at, tm.id, \
                        row_number() OVER (PARTITION BY tm.model_id \
                                           ORDER BY tm.created_at DESC, tm.id DESC) AS n \
                   FROM ticket_models tm \
                  WHERE tm.model_id = ANY($1) \
                    AND tm.outcome IN ('resolved', 'partial') \
                    AND NOT EXISTS (SELECT 1 FROM metric_exclusions e \
                                     WHERE e.ticket_id = tm.ticket_id)) l \
           JOIN tickets t ON t.id = l.ticket_id \
          WHERE l.n <= $2 \
          ORDER BY l.model_id, l.created_at DESC, l.id DESC",
    )
    .bind::<Array<BigInt>, _>(models)
    .bind::<BigInt, _>(PER_MODEL)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.model_id, cut(r.text, PER_TICKET_BYTES)))
        .collect())
}

/// The models linked (resolved or helped partly) from these tickets: their
/// "seen as" text changes when the ticket's does.
pub async fn models_of_tickets(
    conn: &mut AsyncPgConnection,
    tickets: &[i64],
) -> diesel::QueryResult<Vec<i64>> {
    use crate::db::schema::ticket_models;
    use diesel::{ExpressionMethods, QueryDsl};
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Option<i64>> = ticket_models::table
        .filter(ticket_models::ticket_id.eq_any(tickets.to_vec()))
        .filter(ticket_models::model_id.is_not_null())
        .select(ticket_models::model_id)
        .distinct()
        .load(conn)
        .await?;
    Ok(ids.into_iter().flatten().collect())
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(super::cut("aé".repeat(3), 4), "aéa");
        assert_eq!(super::cut("abc".to_owned(), 10), "abc");
    }
}
