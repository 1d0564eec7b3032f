"""Source of eval/flowbench/questions.jsonl: the sample KB's eval set, written by hand for this
project (customers' words: typos, vague wording, follow-ups). Run: python eval/flowbench/build.py"""

import json
from pathlib import Path

ANSWERABLE = {
    "sso-login-loop": [
        "after i log in with okta it just sends me back to the login page again",
        "SSO loop, keeps redirecting to sign in",
        "Your session could not be established. Please try again - what does that mean",
        "signing in with microsoft entra goes in circles",
    ],
    "saml-signature-invalid": [
        "SAML error: signature validation failed SSO-102",
        "nobody at our company can log in with sso since this morning, signature error",
        "our IdP rotated the signing cert and now sso is broken",
        "where do i upload the new saml certificate",
    ],
    "password-login-disabled-sso": [
        "it says password sign-in is disabled for your organization",
        "forgot password link doesnt send anything and we use sso",
        "can admins keep a password login as backup when sso is required",
    ],
    "scim-users-not-provisioned": [
        "users i assigned in okta dont show up in flowbench",
        "scim push user failed, user stuck in pending",
        "entra id provisioning isn't creating accounts",
        "new hires are not being provisioned automatically",
    ],
    "scim-token-unauthorized": [
        "scim returns 401 unauthorized",
        "okta says error authenticating 401 when testing the provisioning connection",
        "our scim token expired how do i make a new one",
    ],
    "two-factor-lockout": [
        "lost my phone and cant get the 2fa code",
        "i got a new phone and my authenticator app is empty, locked out",
        "how do i use a recovery code",
        "locked out of two factor authentication",
    ],
    "two-factor-code-rejected": [
        "invalid verification code but the code is right",
        "my 6 digit authenticator code keeps getting rejected",
        "2fa codes not working, phone time might be wrong?",
    ],
    "password-reset-email-missing": [
        "password reset email never arrives",
        "I clicked forgot password but got no email",
        "reset link email not in inbox or spam",
    ],
    "invite-email-not-arriving": [
        "my teammate never got the invitation email",
        "invited someone but they say no email came",
        "can i resend an invite",
        "how do I send the invite link through slack instead of email",
    ],
    "invite-link-expired": [
        "invite link says this invitation has expired",
        "the invitation link doesn't work anymore, expired or revoked",
        "how long are invites valid",
    ],
    "seat-limit-reached": [
        "You've reached your seat limit when inviting",
        "cant invite more people, 25 of 25 seats used",
        "how do i buy more seats",
        "do guests count as seats",
    ],
    "remove-member": [
        "an employee left, how do i remove them without losing their projects",
        "difference between deactivate and remove member",
        "offboarding a user and transfer their stuff",
        "removed a member by mistake, can i restore their content",
    ],
    "workspace-delete-restore": [
        "how do i delete our workspace",
        "someone deleted the workspace by mistake, can we get it back",
        "This workspace has been scheduled for deletion",
    ],
    "change-workspace-owner": [
        "how to transfer ownership of the workspace",
        "our owner is leaving the company, make someone else owner",
        "only the workspace owner can do this, but the owner left",
    ],
    "permission-denied-project": [
        "You don't have access to this project",
        "edit button is greyed out, viewers can't edit",
        "how do i request access to a project",
        "i cant create tasks in a project, no permission",
    ],
    "guest-access-limits": [
        "what can guests do",
        "our client is a guest and cant see other projects",
        "Guests can't access this page",
        "can a guest create their own projects",
    ],
    "download-invoice": [
        "where can i download our invoices",
        "finance needs a receipt pdf",
        "invoices go to someone who left, change billing contact",
        "how do i get last months invoice",
    ],
    "payment-declined": [
        "Your card was declined",
        "we couldn't charge your card banner",
        "payment failed and account is past due",
        "how do i update the credit card",
    ],
    "vat-tax-id": [
        "add VAT number to invoices",
        "we are charged vat but should be reverse charge",
        "how do i put our tax id on the invoice",
    ],
    "upgrade-plan": [
        "how do i upgrade to business",
        "switch from monthly to annual billing",
        "feature says available on business",
    ],
    "downgrade-plan": [
        "downgrade to a cheaper plan",
        "it says turn off sso before downgrading",
        "what happens to audit logs if we downgrade",
    ],
    "cancel-subscription": [
        "how do i cancel my subscription",
        "where is the cancel button",
        "cancel and get a refund on annual plan",
    ],
    "api-key-rotate": [
        "how do i create an api key",
        "we leaked an api key on github what do we do",
        "rotate api keys",
        "revoke an old api key",
    ],
    "api-401-unauthorized": [
        "api returns 401 invalid_api_key",
        "The API key is missing, malformed, revoked or expired",
        "getting unauthorized from the rest api with my key",
    ],
    "api-rate-limit-429": [
        "api 429 rate_limit_exceeded",
        "too many requests error during bulk import via api",
        "what is the api rate limit",
        "Retry-After header what do I do",
    ],
    "webhook-signature-mismatch": [
        "webhook signature doesn't match",
        "how do i verify the Flowbench-Signature header",
        "hmac of webhook body is different from v1",
    ],
    "webhook-endpoint-disabled": [
        "webhook disabled after repeated failures",
        "we stopped receiving webhook events",
        "can i replay failed webhook deliveries",
    ],
    "slack-not-posting": [
        "slack integration stopped posting",
        "slack says reconnect required",
        "updates not showing in our slack channel anymore",
        "channel_not_found slack",
    ],
    "salesforce-sync-errors": [
        "salesforce sync INVALID_FIELD error",
        "salesforce REQUIRED_FIELD_MISSING",
        "opportunities not updating from flowbench to salesforce",
    ],
    "jira-reconnect": [
        "jira links dont show preview anymore",
        "jira authorization expired",
        "jira status changes not syncing to tasks",
    ],
    "google-calendar-sync": [
        "due dates not showing in google calendar",
        "calendar sync tasks appear a day off",
        "google calendar flowbench calendar empty",
    ],
    "csv-import-encoding": [
        "csv import says invalid file encoding",
        "accents broken after import, names look like Ã©",
        "excel csv import garbled characters",
    ],
    "csv-import-missing-column": [
        "Required column 'email' not found",
        "import fails invalid date in due_date column",
        "how do i map columns when importing a csv",
    ],
    "data-export-workspace": [
        "export all our workspace data",
        "export stuck on preparing export for hours",
        "we need a full backup of projects and comments for gdpr",
    ],
    "data-export-stuck": [
        "report export to excel is empty",
        "Export timed out. Try a smaller date range.",
        "pdf export of report fails",
    ],
    "custom-domain-dns": [
        "custom domain dns verification failed",
        "CNAME record not found for our domain",
        "how do i set up a custom domain",
    ],
    "custom-domain-certificate": [
        "custom domain shows your connection is not private",
        "stuck on issuing certificate",
        "ssl certificate error on our custom domain with cloudflare",
    ],
    "email-notifications-missing": [
        "not getting email notifications",
        "i dont get emails when someone mentions me",
        "email paused because messages bounced",
    ],
    "too-many-notifications": [
        "way too many notifications",
        "how do i get a daily digest instead of every email",
        "mute a noisy project",
    ],
    "mobile-sign-in-sso": [
        "cant log in on the iphone app with sso",
        "Could not return to the app after SSO",
        "android app sso login stuck",
    ],
    "mobile-push-notifications": [
        "no push notifications on my phone",
        "push stopped after ios update",
        "android app doesnt notify me",
    ],
    "audit-log-export": [
        "who changed this setting? audit log",
        "export audit log to csv",
        "stream audit events to splunk",
    ],
    "audit-log-missing-events": [
        "audit log missing events",
        "project deletion not showing in audit log",
        "audit log only goes back a year",
    ],
}

# Follow-ups: the question only makes sense after the earlier turn.
FOLLOW_UPS = [
    (
        "sso keeps sending me back to login",
        "we use ADFS, could the clock matter?",
        "sso-login-loop",
    ),
    ("my card got declined", "and how do i pay the open invoice after that", "payment-declined"),
    ("slack stopped posting", "it's a private channel", "slack-not-posting"),
    ("how do i create an api key", "and how do i rotate it safely", "api-key-rotate"),
    ("export our data", "it's been stuck for a day", "data-export-workspace"),
    ("invite didnt arrive", "can i just send them the link", "invite-email-not-arriving"),
    ("custom domain not verifying", "we use cloudflare proxy", "custom-domain-dns"),
    ("i lost my phone", "i dont have recovery codes either", "two-factor-lockout"),
]

UNANSWERABLE = [
    # On-topic, but the KB has no article for it.
    "how do i change the language of the app to german",
    "can i change my display name",
    "is there a dark mode",
    "how do i archive a project",
    "can i recover a deleted task",
    "does flowbench support gantt charts",
    "how do i set up recurring tasks",
    "can I add custom fields to tasks",
    "is there an on-premise version",
    "where are your servers located, is data stored in the EU",
    "do you have a soc 2 report",
    "how do i enable single logout SLO for saml",
    "can i merge two workspaces",
    "how do i move a project to another workspace",
    "is there a desktop app for mac",
    "the app is slow today, is there an outage",
    "can i get a discount for nonprofits",
    "what is the price per seat",
    "do you offer a free trial of enterprise",
    "how do i connect microsoft teams",
    "is there a zapier integration",
    "how do i embed a board in confluence",
    "can guests be billed to the client",
    "can i print a task list",
    "what keyboard shortcuts are there",
    "how do i change the time format to 24h",
    "how to duplicate a project template",
    "my file upload fails with file too large",
    "can i restrict login by ip address",
    "how do I use the graphql api",
    "is there a python sdk",
    "can i change my email address",
    "how do i delete my personal account but keep the workspace",
    "can i pay with paypal",
    "how many projects can i have on the free plan",
    # Internal-only answers: a customer must not get them from the widget.
    "what identity checks do your agents do before removing 2fa for an owner",
    "how much account credit can a support agent give without approval",
    "can support raise our api limit to 3x for two weeks",
    # Off-topic.
    "what's the weather in paris tomorrow",
    "how do i make sourdough bread",
    "who won the world cup in 2018",
    "translate hello into spanish",
    "what is the capital of australia",
    "recommend a good laptop for programming",
    "how many calories in a banana",
    "book me a flight to berlin",
    "what's 17 times 23",
    "tell me a joke",
    "how do i reset my router",
    "my car makes a weird noise when braking",
    "what is the meaning of life",
    "how do i file my taxes",
    "set an alarm for 7am",
    "is it going to rain",
    "what time is it in tokyo",
]


def main() -> None:
    rows = []
    n = 0
    for article, questions in ANSWERABLE.items():
        for q in questions:
            n += 1
            rows.append(
                {
                    "id": f"fb-{n:03d}",
                    "question": q,
                    "answerable": True,
                    "expected_articles": [article],
                    "source": "flowbench",
                }
            )
    for first, follow, article in FOLLOW_UPS:
        n += 1
        rows.append(
            {
                "id": f"fb-{n:03d}",
                "question": follow,
                "answerable": True,
                "expected_articles": [article],
                "source": "flowbench-followup",
                "history": [{"role": "user", "content": first}],
            }
        )
    for q in UNANSWERABLE:
        n += 1
        rows.append(
            {
                "id": f"fb-{n:03d}",
                "question": q,
                "answerable": False,
                "expected_articles": [],
                "source": "flowbench-unanswerable",
            }
        )
    out = Path(__file__).with_name("questions.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} questions ({sum(r['answerable'] for r in rows)} answerable) -> {out}")


if __name__ == "__main__":
    main()
