//! The search index of SQLite (`message_words`), filled when a batch of transactions commits:
//! it holds every live message by its last text, and nothing else, whatever the batch did.

use comet_core::Timestamp;
use comet_core::room::{Message, UserStub};
use comet_store::{MessageChange, MessageFilter, MessageStore, PostEffects};
use comet_store_sql::{Database, Query, SqlRow, Transaction};
use comet_store_sqlite::SqliteStore;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Long enough on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

fn at(ms: i64) -> Timestamp {
    comet_store::encoding::from_millis(1_700_000_000_000 + ms).expect("a time")
}

fn author() -> UserStub {
    UserStub {
        id: "u1".into(),
        username: "ann".into(),
        name: Some("Ann".into()),
    }
}

async fn post(store: &SqliteStore, id: &str, text: &str) {
    let message = Message::new(id.into(), "r1", author(), text, at(0));
    store
        .post_message(&message, &PostEffects::default())
        .await
        .expect("post");
}

async fn edit(store: &SqliteStore, id: &str, text: &str) {
    let change = MessageChange::Edit {
        text: text.to_owned(),
        mentions: Vec::new(),
        channels: Vec::new(),
        urls: Vec::new(),
        md: None,
        by: author(),
        attachments: None,
        custom_fields: None,
    };
    store
        .change_message(id, &change, at(1))
        .await
        .expect("edit")
        .expect("the message");
}

async fn delete(store: &SqliteStore, id: &str) {
    assert!(store.delete_message(id, at(2)).await.expect("delete"));
}

type Step = Box<
    dyn FnOnce(Arc<SqliteStore>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
>;

async fn found(store: &SqliteStore, text: &str) -> Vec<String> {
    store
        .search_messages("r1", text, &MessageFilter::default(), false, 0, None)
        .await
        .expect("search")
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// The rowids the index holds, and those of the live messages.
async fn indexed_and_live(store: &SqliteStore) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let ids = |sql: &'static str| async move {
        store
            .read(Query::new(sql))
            .await
            .expect("read")
            .iter()
            .map(|r| r.int("id").expect("id"))
            .collect::<BTreeSet<i64>>()
    };
    (
        ids("SELECT rowid AS id FROM message_words").await,
        ids("SELECT rowid AS id FROM messages WHERE deleted_at IS NULL").await,
    )
}

#[tokio::test]
async fn one_batch_posting_editing_and_deleting_leaves_each_message_under_its_last_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("test.db"))
            .await
            .expect("open"),
    );
    store
        .write(Query::new(
            "INSERT INTO rooms (id, t, name, name_key, created_at, updated_at) \
             VALUES ('r1', 'c', 'dev', 'dev', 0, 0)",
        ))
        .await
        .expect("room");
    post(&store, "earlier", "alpha earlier").await;
    post(&store, "doomed", "delta earlier").await;

    // Whoever holds the writer makes the writers queued behind it one batch.
    let mut holder = store.begin().await.expect("begin");
    holder
        .write(Query::new("CREATE TABLE holder (x)"))
        .await
        .expect("hold the writer");
    // One task each, queued in this order (the writer's lock is fair): each awaits its own
    // commit, so two steps of one task could never share a batch.
    let steps: Vec<Step> = vec![
        Box::new(|s| Box::pin(async move { post(&s, "fresh", "bravo").await })),
        Box::new(|s| Box::pin(async move { edit(&s, "fresh", "bravo changed to charlie").await })),
        Box::new(|s| Box::pin(async move { edit(&s, "earlier", "echo").await })),
        Box::new(|s| Box::pin(async move { post(&s, "brief", "foxtrot").await })),
        Box::new(|s| Box::pin(async move { delete(&s, "brief").await })),
        Box::new(|s| Box::pin(async move { delete(&s, "doomed").await })),
        Box::new(|s| Box::pin(async move { post(&s, "other", "golf").await })),
    ];
    let syncs_before = store.wal_syncs();
    let mut tasks = Vec::new();
    for step in steps {
        tasks.push(tokio::spawn(step(store.clone())));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
    holder.commit().await.expect("release the writer");
    for task in tasks {
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a step never finished")
            .expect("step task");
    }
    assert_eq!(store.wal_syncs() - syncs_before, 1, "one batch, one sync");

    assert_eq!(found(&store, "charlie").await, ["fresh"]);
    assert_eq!(
        found(&store, "bravo").await,
        ["fresh"],
        "its edit says bravo too"
    );
    assert_eq!(found(&store, "echo").await, ["earlier"]);
    assert!(found(&store, "alpha").await.is_empty(), "edited away");
    assert!(found(&store, "foxtrot").await.is_empty(), "deleted");
    assert!(found(&store, "delta").await.is_empty(), "deleted");
    assert_eq!(found(&store, "golf").await, ["other"]);
    let (indexed, live) = indexed_and_live(&store).await;
    assert_eq!(
        indexed, live,
        "the index holds the live messages, nothing else"
    );
}
