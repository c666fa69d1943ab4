//! Confluence v2 through the gateway: spaces with cursor paging, pages and their storage bodies.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{body, spawn};
use threelo_emulator::seed::ids::{ACME_CLOUD_ID, ALICE, ENG_SPACE, HOSTILE_PAGE, READ_SPACE_CONFLUENCE, SPACE_KEYS};

#[tokio::test]
async fn confluence_spaces_page_with_an_opaque_cursor_and_a_link_header() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let base = format!("/ex/confluence/{ACME_CLOUD_ID}");
    let res = t.get(&token, &format!("{base}/wiki/api/v2/spaces?limit=2")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let page = body(res).await;
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert_eq!(page["results"][0]["type"], "global");
    assert!(page["results"][0]["_links"]["webui"].is_string());
    let next = page["_links"]["next"].as_str().unwrap();
    assert!(next.starts_with("/wiki/api/v2/spaces?") && next.contains("cursor="));
    assert!(link.contains(&format!("<{next}>; rel=\"next\"")));
    let rest = body(t.get(&token, &format!("{base}{next}")).await).await;
    assert_eq!(rest["results"].as_array().unwrap().len(), 1);
    assert!(rest["_links"].get("next").is_none());
    let mut keys: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["results"].as_array().unwrap())
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    let mut expected = SPACE_KEYS;
    expected.sort();
    assert_eq!(keys, expected);
    let bad = t.get(&token, &format!("{base}/wiki/api/v2/spaces?cursor=bogus")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn confluence_pages_list_by_space_and_return_storage_bodies() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let wiki = format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/api/v2");
    let spaces = body(t.get(&token, &format!("{wiki}/spaces")).await).await;
    let eng = spaces["results"].as_array().unwrap().iter().find(|s| s["key"] == ENG_SPACE).unwrap();
    let eng_id = eng["id"].as_str().unwrap();
    let pages = body(t.get(&token, &format!("{wiki}/pages?space-id={eng_id}")).await).await;
    let list = pages["results"].as_array().unwrap();
    assert!(list.len() >= 3 && list.iter().all(|p| p["spaceId"] == eng_id && p["status"] == "current"));
    let same = body(t.get(&token, &format!("{wiki}/spaces/{eng_id}/pages")).await).await;
    assert_eq!(same["results"], pages["results"]);
    let hostile = list.iter().find(|p| p["title"].as_str().unwrap().starts_with("Security test")).unwrap();
    let id = hostile["id"].as_str().unwrap();
    assert_eq!(id, HOSTILE_PAGE);
    let page = body(t.get(&token, &format!("{wiki}/pages/{id}?body-format=storage")).await).await;
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    let xhtml = page["body"]["storage"]["value"].as_str().unwrap();
    for attack in ["<script>", "onclick=", "href=\"javascript:", "<style>", "<iframe"] {
        assert!(xhtml.contains(attack), "hostile page lacks {attack}");
    }
    assert!(page["version"]["number"].is_u64() && page["_links"]["webui"].is_string());
    let res = t.get(&token, &format!("{wiki}/pages/999999?body-format=storage")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(res).await,
        json!({"errors": [
        {"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": null}]})
    );
    let only_spaces = t.sign_in(ALICE, READ_SPACE_CONFLUENCE).await["access_token"].as_str().unwrap().to_owned();
    let res = t.get(&only_spaces, &format!("{wiki}/pages/{id}")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "pages need read:page:confluence");
}
