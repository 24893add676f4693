//! TokenReview and SubjectAccessReview answered from the test's tables.

use crate::common::*;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use wva_kube_double::KubeDouble;

async fn review_token(api: &Api<TokenReview>, token: &str) -> (bool, Option<String>, Vec<String>) {
    let tr = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.into()),
            ..TokenReviewSpec::default()
        },
        ..TokenReview::default()
    };
    let st = api
        .create(&PostParams::default(), &tr)
        .await
        .unwrap()
        .status
        .unwrap();
    let user = st.user.unwrap_or_default();
    (
        st.authenticated == Some(true),
        user.username,
        user.groups.unwrap_or_default(),
    )
}

async fn allowed(api: &Api<SubjectAccessReview>, spec: SubjectAccessReviewSpec) -> bool {
    let sar = SubjectAccessReview {
        spec,
        ..SubjectAccessReview::default()
    };
    api.create(&PostParams::default(), &sar)
        .await
        .unwrap()
        .status
        .unwrap()
        .allowed
}

#[tokio::test]
async fn token_and_access_reviews_answer_from_the_tables() {
    let api = KubeDouble::start().await;
    api.allow_token("good-token", "alice");
    api.allow_token_with_groups("ops-token", "bob", &["ops"]);
    api.allow("alice", "get", "/metrics");
    api.allow("ops", "list", "deployments.apps");
    let client = client(&api);
    let trs: Api<TokenReview> = Api::all(client.clone());
    assert_eq!(
        review_token(&trs, "good-token").await,
        (true, Some("alice".into()), vec![])
    );
    assert_eq!(
        review_token(&trs, "ops-token").await,
        (true, Some("bob".into()), vec!["ops".into()])
    );
    assert!(!review_token(&trs, "bad-token").await.0);

    let sars: Api<SubjectAccessReview> = Api::all(client);
    let non_resource = |user: &str, path: &str| SubjectAccessReviewSpec {
        user: Some(user.into()),
        non_resource_attributes: Some(NonResourceAttributes {
            path: Some(path.into()),
            verb: Some("get".into()),
        }),
        ..SubjectAccessReviewSpec::default()
    };
    assert!(allowed(&sars, non_resource("alice", "/metrics")).await);
    assert!(!allowed(&sars, non_resource("alice", "/debug")).await);
    assert!(!allowed(&sars, non_resource("mallory", "/metrics")).await);
    let resource = |user: &str, groups: Vec<String>, verb: &str| SubjectAccessReviewSpec {
        user: Some(user.into()),
        groups: Some(groups),
        resource_attributes: Some(ResourceAttributes {
            group: Some("apps".into()),
            resource: Some("deployments".into()),
            verb: Some(verb.into()),
            ..ResourceAttributes::default()
        }),
        ..SubjectAccessReviewSpec::default()
    };
    assert!(allowed(&sars, resource("bob", vec!["ops".into()], "list")).await);
    assert!(!allowed(&sars, resource("bob", vec!["ops".into()], "delete")).await);
    assert!(!allowed(&sars, resource("alice", vec![], "list")).await);
}
