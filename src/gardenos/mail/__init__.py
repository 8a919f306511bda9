"""Mail to users: confirmation, magic link, OTP, recovery, email change and invite mails for the auth API.

`build_mailer` picks SMTP when `GARDENOS_SMTP_HOST` is set, and otherwise the development outbox
(`gardenos mail list`), so sign-ups work on a laptop without a mail server. Mails that a business
transaction decides to send (approved follow-ups) go through `sender`: written with that transaction,
sent after its commit, once.
"""
