-- Automatic translation: a member's choice per room (upstream's subscription fields
-- `autoTranslate` and `autoTranslateLanguage`; NULL is upstream's absent field, which clients
-- tell apart from `false`). Messages keep their translations in their JSON document.
ALTER TABLE subscriptions ADD COLUMN auto_translate INTEGER;
ALTER TABLE subscriptions ADD COLUMN auto_translate_language TEXT;
-- The worker asks, per message, which languages a room's translating members chose.
CREATE INDEX subscriptions_auto_translate ON subscriptions (rid) WHERE auto_translate = 1;
