use serde_json::{Value, json};

use super::*;

fn doc(content: Value) -> Value {
    json!({"type": "doc", "version": 1, "content": content})
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

fn marked(t: &str, marks: Value) -> Value {
    json!({"type": "text", "text": t, "marks": marks})
}

/// Builds `{"type": kind, "content": [child]}` without `json!`, which would copy `child`
/// through a recursive serialisation.
fn wrap(kind: &str, child: Value) -> Value {
    let mut node = serde_json::Map::new();
    node.insert("type".into(), kind.into());
    node.insert("content".into(), Value::Array(vec![child]));
    Value::Object(node)
}

fn para(content: Value) -> Value {
    json!({"type": "paragraph", "content": content})
}

/// Renders one paragraph holding `inline`.
fn inline(inline: Value) -> String {
    adf_to_html(&doc(json!([para(json!([inline]))])))
}

fn link(href: &str) -> String {
    inline(marked("click", json!([{"type": "link", "attrs": {"href": href}}])))
}

/// Checks that every tag we opened is closed, in order. Our text is always escaped, so every `<`
/// in the output starts a tag.
fn assert_balanced(html: &str) {
    let mut open = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("tag is closed")];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "misnested </{name}>");
        } else {
            let name = tag.split(' ').next().unwrap_or_default();
            if !matches!(name, "br" | "hr") {
                open.push(name);
            }
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

/// serde_json drops values recursively; take a very deep one apart by hand instead.
fn drop_iteratively(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[test]
fn block_nodes_render_as_their_html_elements() {
    let cases = [
        (para(json!([text("Hi")])), "<p>Hi</p>"),
        (json!({"type": "blockquote", "content": [para(json!([text("q")]))]}), "<blockquote><p>q</p></blockquote>"),
        (json!({"type": "rule"}), "<hr>"),
        (para(json!([text("a"), {"type": "hardBreak"}, text("b")])), "<p>a<br>b</p>"),
        (
            json!({"type": "panel", "attrs": {"panelType": "warning"}, "content": [para(json!([text("p")]))]}),
            "<div class=\"panel\"><p>p</p></div>",
        ),
        (
            json!({"type": "bulletList", "content": [{"type": "listItem", "content": [para(json!([text("a")]))]}]}),
            "<ul><li><p>a</p></li></ul>",
        ),
        (
            json!({"type": "table", "content": [{"type": "tableRow", "content": [
                {"type": "tableHeader", "content": [para(json!([text("h")]))]},
                {"type": "tableCell", "content": [para(json!([text("c")]))]},
            ]}]}),
            "<table><tbody><tr><th><p>h</p></th><td><p>c</p></td></tr></tbody></table>",
        ),
    ];
    for (node, want) in cases {
        assert_eq!(adf_to_html(&doc(json!([node]))), want);
    }
}

#[test]
fn heading_levels_are_validated_before_use() {
    for level in 1..=6 {
        let h = json!({"type": "heading", "attrs": {"level": level}, "content": [text("T")]});
        assert_eq!(adf_to_html(&h), format!("<h{level}>T</h{level}>"));
    }
    let heading =
        |level: Value| adf_to_html(&json!({"type": "heading", "attrs": {"level": level}, "content": [text("T")]}));
    assert_eq!(heading(json!(7)), "<h6>T</h6>");
    assert_eq!(heading(json!(99999)), "<h6>T</h6>");
    for odd in [json!(0), json!(-1), json!(2.5), json!("2"), json!(null), json!("7\" onmouseover=\"alert(1)")] {
        assert_eq!(heading(odd), "<p>T</p>");
    }
    assert_eq!(adf_to_html(&json!({"type": "heading", "content": [text("T")]})), "<p>T</p>");
}

#[test]
fn ordered_list_start_is_a_positive_integer_or_nothing() {
    let list = |attrs: Value| {
        adf_to_html(&json!({"type": "orderedList", "attrs": attrs, "content": [
            {"type": "listItem", "content": [para(json!([text("x")]))]},
        ]}))
    };
    assert_eq!(list(json!({"order": 3})), "<ol start=\"3\"><li><p>x</p></li></ol>");
    assert_eq!(list(json!({"order": 1})), "<ol start=\"1\"><li><p>x</p></li></ol>");
    for odd in [json!(0), json!(-2), json!(2.5), json!("3"), json!("3\" onclick=\"alert(1)"), json!([3])] {
        assert_eq!(list(json!({"order": odd})), "<ol><li><p>x</p></li></ol>");
    }
    assert_eq!(list(json!(null)), "<ol><li><p>x</p></li></ol>");
}

#[test]
fn code_block_language_becomes_a_class_only_when_harmless() {
    let code = |language: Value| {
        adf_to_html(&json!({"type": "codeBlock", "attrs": {"language": language}, "content": [text("a < b")]}))
    };
    assert_eq!(code(json!("rust")), "<pre><code class=\"language-rust\">a &lt; b</code></pre>");
    assert_eq!(code(json!("c++")), "<pre><code class=\"language-c++\">a &lt; b</code></pre>");
    assert_eq!(code(json!("objective-c_2")), "<pre><code class=\"language-objective-c_2\">a &lt; b</code></pre>");
    let long = "a".repeat(33);
    for odd in [json!("html\"><script>alert(1)</script>"), json!(""), json!(long), json!("a b"), json!(5), json!(null)]
    {
        assert_eq!(code(odd), "<pre><code>a &lt; b</code></pre>");
    }
}

#[test]
fn code_block_content_cannot_close_the_block() {
    let block = json!({"type": "codeBlock", "content": [text("</code></pre><script>alert(2)</script>")]});
    assert_eq!(
        adf_to_html(&block),
        "<pre><code>&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;</code></pre>"
    );
}

#[test]
fn each_mark_renders_as_its_element() {
    let one = |mark: Value| inline(marked("x", json!([mark])));
    assert_eq!(one(json!({"type": "strong"})), "<p><strong>x</strong></p>");
    assert_eq!(one(json!({"type": "em"})), "<p><em>x</em></p>");
    assert_eq!(one(json!({"type": "code"})), "<p><code>x</code></p>");
    assert_eq!(one(json!({"type": "strike"})), "<p><s>x</s></p>");
    assert_eq!(one(json!({"type": "underline"})), "<p><u>x</u></p>");
    assert_eq!(one(json!({"type": "subsup", "attrs": {"type": "sub"}})), "<p><sub>x</sub></p>");
    assert_eq!(one(json!({"type": "subsup", "attrs": {"type": "sup"}})), "<p><sup>x</sup></p>");
    assert_eq!(one(json!({"type": "subsup", "attrs": {"type": "script"}})), "<p>x</p>");
    assert_eq!(one(json!({"type": "textColor", "attrs": {"color": "red;background:url(x)"}})), "<p>x</p>");
    assert_eq!(one(json!({"type": "blink"})), "<p>x</p>");
}

#[test]
fn marks_nest_in_order_and_apply_once() {
    let marks = json!([{"type": "strong"}, {"type": "em"}, {"type": "strong"}, {"type": "em"}]);
    assert_eq!(inline(marked("x", marks)), "<p><strong><em>x</em></strong></p>");
    let links = json!([
        {"type": "link", "attrs": {"href": "https://a.example/"}},
        {"type": "link", "attrs": {"href": "https://b.example/"}},
    ]);
    assert_eq!(
        inline(marked("x", links)),
        "<p><a href=\"https://a.example/\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">x</a></p>"
    );
}

#[test]
fn web_and_mail_links_are_kept_with_a_safe_rel() {
    let a = |href: &str| {
        format!("<p><a href=\"{href}\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">click</a></p>")
    };
    assert_eq!(link("https://example.com/notes"), a("https://example.com/notes"));
    assert_eq!(link("http://example.com/?a=1&b=2"), a("http://example.com/?a=1&amp;b=2"));
    assert_eq!(link("HTTPS://Example.COM/x"), a("https://example.com/x"));
    assert_eq!(link("mailto:someone@example.com"), a("mailto:someone@example.com"));
}

#[test]
fn any_other_link_renders_as_plain_text() {
    for href in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "\u{0}https://example.com/",
        "https://exa mple.com/",
        "https://example.com/\u{a0}",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://example.com/",
        "/relative/path",
        "relative",
        "//evil.example/",
        "#top",
        "",
    ] {
        assert_eq!(link(href), "<p>click</p>", "{href:?}");
    }
    let not_a_string = inline(marked("click", json!([{"type": "link", "attrs": {"href": 42}}])));
    assert_eq!(not_a_string, "<p>click</p>");
}

#[test]
fn quotes_and_brackets_in_an_allowed_href_cannot_leave_the_attribute() {
    // The URL parser percent-encodes these in http(s) URLs...
    assert_eq!(
        link("https://example.com/\"><script>alert(1)</script>"),
        "<p><a href=\"https://example.com/%22%3E%3Cscript%3Ealert(1)%3C/script%3E\" \
         rel=\"noopener noreferrer nofollow\" target=\"_blank\">click</a></p>"
    );
    // ...but leaves a mailto: path alone, so our escaping is what stops it.
    assert_eq!(
        link("mailto:a@b.example\"onmouseover=\"alert(1)'>"),
        "<p><a href=\"mailto:a@b.example&quot;onmouseover=&quot;alert(1)&#39;&gt;\" \
         rel=\"noopener noreferrer nofollow\" target=\"_blank\">click</a></p>"
    );
}

#[test]
fn text_is_escaped_never_markup() {
    assert_eq!(
        inline(text("<script>alert(1)</script> & \"quotes\" 'too'")),
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;too&#39;</p>"
    );
    assert_eq!(adf_to_html(&json!("<b>v2 text</b>")), "&lt;b&gt;v2 text&lt;/b&gt;");
}

#[test]
fn mentions_and_emoji_show_their_text() {
    let mention = |attrs: Value| inline(json!({"type": "mention", "attrs": attrs}));
    assert_eq!(
        mention(json!({"id": "712020:abc", "text": "@Alice Example"})),
        "<p><span class=\"mention\">@Alice Example</span></p>"
    );
    assert_eq!(mention(json!({"id": "712020:abc", "text": "Bob"})), "<p><span class=\"mention\">@Bob</span></p>");
    assert_eq!(mention(json!({"id": "712020:abc"})), "<p><span class=\"mention\">@712020:abc</span></p>");
    assert_eq!(
        mention(json!({"text": "@<img src=x onerror=alert(1)>"})),
        "<p><span class=\"mention\">@&lt;img src=x onerror=alert(1)&gt;</span></p>"
    );
    assert_eq!(mention(json!(null)), "<p><span class=\"mention\">@</span></p>");

    let emoji = |attrs: Value| inline(json!({"type": "emoji", "attrs": attrs}));
    assert_eq!(emoji(json!({"shortName": ":rocket:", "text": "🚀"})), "<p>🚀</p>");
    assert_eq!(emoji(json!({"shortName": ":rocket:"})), "<p>:rocket:</p>");
    assert_eq!(emoji(json!({"shortName": "<svg onload=alert(1)>"})), "<p>&lt;svg onload=alert(1)&gt;</p>");
    assert_eq!(emoji(json!({"id": "1f680"})), "<p></p>");
}

#[test]
fn unknown_and_media_nodes_render_only_their_text() {
    let cases = [
        (
            json!({"type": "status", "attrs": {"text": "IN <b>PROGRESS</b>", "color": "red"}}),
            "<p>IN &lt;b&gt;PROGRESS&lt;/b&gt;</p>",
        ),
        (json!({"type": "inlineCard", "attrs": {"url": "javascript:alert(1)"}}), "<p>javascript:alert(1)</p>"),
        (json!({"type": "date", "attrs": {"timestamp": "1791936000000"}}), "<p>2026-10-14</p>"),
        (json!({"type": "date", "attrs": {"timestamp": "soon"}}), "<p></p>"),
        (json!({"type": "media", "attrs": {"id": "x", "type": "file", "collection": "c"}}), "<p></p>"),
        (json!({"type": "script", "content": [text("<alert>")]}), "<p>&lt;alert&gt;</p>"),
    ];
    for (node, want) in cases {
        assert_eq!(inline(node), want);
    }
    let expand = json!({"type": "expand", "attrs": {"title": "t"}, "content": [
        para(json!([marked("a", json!([{"type": "strong"}]))])),
        {"type": "bulletList", "content": [{"type": "listItem", "content": [para(json!([text("b")]))]}]},
    ]});
    assert_eq!(adf_to_html(&doc(json!([expand]))), "a\nb");
    let media = json!({"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "x"}}]});
    assert_eq!(adf_to_html(&doc(json!([media]))), "");
}

#[test]
fn list_items_and_cells_outside_their_container_lose_their_tag() {
    let stray = json!([
        {"type": "listItem", "content": [para(json!([text("li")]))]},
        {"type": "tableCell", "content": [para(json!([text("td")]))]},
        {"type": "bulletList", "content": [{"type": "tableRow", "content": [{"type": "tableHeader", "content": [text("th")]}]}]},
    ]);
    assert_eq!(adf_to_html(&doc(stray)), "<p>li</p><p>td</p><ul>th</ul>");
}

#[test]
fn garbage_never_panics_and_renders_what_it_can() {
    for junk in
        [json!(null), json!(42), json!(true), json!([1, 2]), json!({}), json!({"type": 5}), json!({"content": "x"})]
    {
        assert_eq!(adf_to_html(&junk), "", "{junk}");
    }
    let odd_children =
        doc(json!([null, 1, "s", [], {"type": "text", "text": 7}, {"type": "text"}, para(json!({"a": 1}))]));
    assert_eq!(adf_to_html(&odd_children), "<p></p>");
    let odd_marks = para(json!([
        {"type": "text", "text": "a", "marks": "strong"},
        {"type": "text", "text": "b", "marks": [null, 1, {"type": null}, {"type": "link"}, {"type": "link", "attrs": []}]},
    ]));
    assert_eq!(adf_to_html(&odd_marks), "<p>ab</p>");
    let odd_attrs = doc(json!([{"type": "heading", "attrs": "x"}, {"type": "codeBlock", "attrs": 1, "content": [1]}]));
    assert_eq!(adf_to_html(&odd_attrs), "<p></p><pre><code></code></pre>");
}

#[test]
fn ten_thousand_levels_of_nesting_do_not_overflow_the_stack() {
    for wrapper in ["blockquote", "expand"] {
        let mut node = para(json!([text("bottom")]));
        for _ in 0..10_000 {
            node = wrap(wrapper, node);
        }
        let node = wrap("doc", node);
        let html = adf_to_html(&node);
        assert!(html.contains("bottom"));
        assert_balanced(&html);
        // The doc is level 0, so levels 1 to 63 are rendered as elements.
        let rendered = if wrapper == "blockquote" { MAX_DEPTH - 1 } else { 0 };
        assert_eq!(html.matches("<blockquote>").count(), rendered);
        drop_iteratively(node);
    }
}

#[test]
fn output_is_capped_and_stays_well_formed() {
    let big = "<&>".repeat(2_000);
    let paragraphs: Vec<Value> = (0..300).map(|_| para(json!([marked(&big, json!([{"type": "strong"}]))]))).collect();
    let mut node = wrap("bulletList", json!({"type": "listItem", "content": paragraphs}));
    for _ in 0..15 {
        node = wrap("table", wrap("tableRow", wrap("tableCell", node)));
    }
    let html = adf_to_html(&wrap("doc", node));
    assert!(html.len() <= MAX_OUTPUT, "{} bytes", html.len());
    assert!(html.len() > MAX_OUTPUT - CLOSE_RESERVE - 100, "{} bytes", html.len());
    let tail = format!("</strong></p></li></ul>{}", "</td></tr></tbody></table>".repeat(15));
    assert!(html.ends_with(&tail), "{}", &html[html.len() - 80..]);
    assert_balanced(&html);
}

/// The JSON text of a doc with `levels` of `open`/`close` around a paragraph saying `words`,
/// built as text: serde_json would refuse to decode (and recurse to encode) such depths.
fn nested_json(levels: usize, open: &str, close: &str, words: &str) -> String {
    let inner = format!(r#"{{"type":"paragraph","content":[{{"type":"text","text":"{words}"}}]}}"#);
    format!(r#"{{"type":"doc","version":1,"content":[{}{inner}{}]}}"#, open.repeat(levels), close.repeat(levels))
}

const LIST_OPEN: &str = r#"{"type":"bulletList","content":[{"type":"listItem","content":["#;
const LIST_CLOSE: &str = "]}]}";
const QUOTE_OPEN: &str = r#"{"type":"blockquote","content":["#;
const QUOTE_CLOSE: &str = "]}";

#[test]
fn descriptions_nested_past_serde_jsons_recursion_limit_render_their_text() {
    for json in [
        nested_json(31, LIST_OPEN, LIST_CLOSE, "deep in lists"),
        nested_json(63, QUOTE_OPEN, QUOTE_CLOSE, "deep in quotes"),
    ] {
        assert!(serde_json::from_str::<Value>(&json).is_err(), "deeper than serde_json's own limit");
        let html = adf_json_to_html(&json);
        assert!(html.contains("deep in lists") || html.contains("deep in quotes"), "{html}");
        assert!(html.starts_with("<ul>") || html.starts_with("<blockquote>"), "structure up to the cap: {html}");
    }
}

#[test]
fn a_description_nested_just_under_the_decoding_cap_decodes_on_a_small_stack() {
    // 2 JSON levels per blockquote, 5 for the doc and the paragraph around them.
    let json = nested_json((MAX_JSON_DEPTH - 5) / 2, QUOTE_OPEN, QUOTE_CLOSE, "still shown");
    // Test threads have 2 MiB stacks, as actix's workers do.
    let html = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || adf_json_to_html(&json))
        .expect("a thread")
        .join()
        .expect("no stack overflow");
    assert!(html.contains("still shown"), "{}", &html[html.len().saturating_sub(200)..]);
}

#[test]
fn a_description_nested_past_the_decoding_cap_shows_a_notice_quickly() {
    // A 2 MB answer that is nothing but nesting.
    let json = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    assert_eq!(adf_json_to_html(&json), TOO_DEEP);
    let deep_object = nested_json(MAX_JSON_DEPTH, QUOTE_OPEN, QUOTE_CLOSE, "hidden");
    assert_eq!(adf_json_to_html(&deep_object), TOO_DEEP);
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    let words = r#"[[[[{{{{ \"[[[ \\"#;
    let json = format!(
        r#"{{"type":"doc","content":[{{"type":"paragraph","content":[{{"type":"text","text":"{}"}}]}}]}}"#,
        words.repeat(1000)
    );
    assert_eq!(nesting_depth(&json, MAX_JSON_DEPTH), 5, "doc, content, paragraph, content, text");
    assert!(adf_json_to_html(&json).contains("[[[[{{{{"));
}
