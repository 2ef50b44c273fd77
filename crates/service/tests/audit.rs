//! The audit log's retention at the service: `Audit_Retention_Days` prunes the entries older
//! than it and leaves a chain that still verifies, anchored by an `audit.prune` entry.

mod harness;

use comet_core::audit::{AuditDraft, ChainVerdict, PRUNE_ACTION};
use comet_service::audit::AuditFilter;
use comet_store::AuditStore;
use harness::TestService;
use serde_json::json;

fn old_entry(days_ago: i64) -> AuditDraft {
    AuditDraft {
        at: comet_core::now() - chrono::Duration::days(days_ago),
        actor_id: "someone".into(),
        actor_username: "someone".into(),
        action: "user.update".into(),
        target_kind: "user".into(),
        target_id: "target".into(),
        target_name: None,
        client_address: None,
        user_agent: None,
        before: None,
        after: None,
    }
}

#[tokio::test]
async fn retention_prunes_old_entries_and_keeps_the_chain_verifiable() {
    let t = TestService::start().await;
    let admin = t.admin().await;
    for days in [30, 20, 10] {
        t.store
            .append_audit(&old_entry(days))
            .await
            .expect("append");
    }
    // Forever by default: nothing goes.
    assert_eq!(t.service.audit().apply_retention().await.expect("prune"), 0);

    t.set("Audit_Retention_Days", json!(15)).await;
    let (before, total_before) = t
        .service
        .audit()
        .list(&admin, &AuditFilter::default(), 0, None)
        .await
        .expect("list");
    let removed = t.service.audit().apply_retention().await.expect("prune");
    // Everything up to the entry 20 days old: the admin's login and the two oldest.
    let last_old = before
        .iter()
        .filter(|e| e.draft.at < comet_core::now() - chrono::Duration::days(15))
        .map(|e| e.seq)
        .max()
        .expect("an old entry");
    assert_eq!(removed, last_old - before.last().expect("oldest").seq + 1);

    let (after, total_after) = t
        .service
        .audit()
        .list(&admin, &AuditFilter::default(), 0, None)
        .await
        .expect("list");
    assert_eq!(total_after, total_before - removed + 1);
    assert_eq!(after[0].draft.action, PRUNE_ACTION);
    assert!(after.iter().all(|e| e.seq > last_old));
    assert!(after.iter().any(|e| e.draft.action == "setting.update"));
    assert_eq!(
        t.service.audit().verify().await.expect("verify"),
        ChainVerdict::Intact {
            entries: total_after
        }
    );
    // Nothing older is left: a second run removes nothing.
    assert_eq!(t.service.audit().apply_retention().await.expect("prune"), 0);
}
