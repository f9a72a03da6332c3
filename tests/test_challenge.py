"""Bot challenges told apart from pages: Cloudflare, Akamai, AWS WAF and captcha pages, and look-alikes."""

from __future__ import annotations

import pytest

from monitor.challenge import looks_like_bot_challenge

CLOUDFLARE_CHALLENGE = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper" role="main">
<div class="main-content"><noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript
and cookies to continue</span></div></noscript></div></div>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "www.example.com",cType: 'managed'};
var cpo = document.createElement('script');
cpo.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';
document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"""

AKAMAI_DENIED = b"""<HTML><HEAD>
<TITLE>Access Denied</TITLE>
</HEAD><BODY>
<H1>Access Denied</H1>

You don't have permission to access "http&#58;&#47;&#47;www&#46;example&#46;com&#47;policy" on this server.<P>
Reference&#32;&#35;18&#46;6f3c1702&#46;1718000000&#46;1a2b3c4d
<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;6f3c1702&#46;1718000000&#46;1a2b3c4d</P>
</BODY>
</HTML>
"""

CAPTCHA_PAGE = b"""<html><head><title>Security check</title></head><body>
<p>We have detected unusual traffic from your network. Please complete the CAPTCHA below.</p>
<div class="g-recaptcha" data-sitekey="x"></div></body></html>"""

# A normal page behind Cloudflare: the injected bot-detection script is not a challenge.
CLOUDFLARE_NORMAL_PAGE = b"""<html><head><title>Privacy policy</title></head><body>
<p>This site uses reCAPTCHA and the Google Privacy Policy applies.</p>
<script>(function(){function c(){var b=a.contentDocument||a.contentWindow.document;if(b){var d=
b.createElement('script');d.innerHTML="window.__CF$cv$params={r:'8a1b',t:'MTcxODAwMDAwMC4wMDAwMDA='};
var a=document.createElement('script');a.nonce='';a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';
document.getElementsByTagName('head')[0].appendChild(a);";}}}})();</script></body></html>"""


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (403, {"CF-Mitigated": "challenge"}, b""),
        (403, {"x-amzn-waf-action": "captcha"}, b""),
        (503, {}, CLOUDFLARE_CHALLENGE),
        (403, {}, AKAMAI_DENIED),
        (403, {}, CAPTCHA_PAGE),
        (403, {}, b"<html><head><title>Just a moment...</title></head>" + b"<p>filler</p>" * 5000),
        (200, {}, b"<html><head><title>Verify you are human</title></head><body></body></html>"),
        (200, {}, b"<html><body><a href='/_Incapsula_Resource?x=1'></a></body></html>"),
    ],
)
def test_challenge_pages_are_recognised(status: int, headers: dict[str, str], body: bytes) -> None:
    assert looks_like_bot_challenge(status, headers, body)


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (200, {"Server": "cloudflare"}, CLOUDFLARE_NORMAL_PAGE),
        (
            200,
            {},
            b"<html><head><title>Our pledge</title></head><body><p>We will not sell.</p></body></html>",
        ),
        (200, {}, b"<html><title>Captcha law</title>" + b"x" * 20000),  # large pages are not scanned
        (200, {}, b"<p>Access denied to police, says the policy. See reference #3.</p>" + b"x" * 20000),
        (403, {"Server": "nginx"}, b"<html><title>403 Forbidden</title><h1>Forbidden</h1></html>"),
        (503, {"Retry-After": "60"}, b"<h1>Service Unavailable</h1><p>Back soon.</p>"),
        (404, {}, b"<h1>Not Found</h1>"),
    ],
)
def test_ordinary_pages_are_not_challenges(status: int, headers: dict[str, str], body: bytes) -> None:
    assert not looks_like_bot_challenge(status, headers, body)
