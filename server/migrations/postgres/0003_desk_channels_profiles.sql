-- The representative's desk, channels and verified profiles (issue 15).
-- Which OAuth client a login session belongs to: the web widget, the
-- messenger channel, or the representatives' desk.
ALTER TABLE families ADD COLUMN client_id TEXT NOT NULL DEFAULT 'chat-demo';
-- The channel a message was written on (an agent reply: the channel the
-- customer last wrote on).
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'web';
-- How far the representatives have read each conversation (one marker for
-- the team: a message read by one is read for all).
CREATE TABLE conversation_reads (
  owner_kind TEXT NOT NULL,
  owner TEXT NOT NULL,
  read_up_to BIGINT NOT NULL,
  PRIMARY KEY (owner_kind, owner)
);
-- The last UserProfile API check per customer, made while the customer was
-- active: the outcome, the profile (only when verified) and when. Never a
-- token.
CREATE TABLE profiles (
  customer_id TEXT PRIMARY KEY,
  sdk_customer_id TEXT NOT NULL,
  verified BOOLEAN NOT NULL,
  reason TEXT,
  data TEXT,
  checked_at BIGINT NOT NULL
);
-- When each representative last used the desk (the bot's auto-reply waits
-- for nobody being online).
CREATE TABLE desk_presence (
  agent TEXT PRIMARY KEY,
  seen_at BIGINT NOT NULL
);
