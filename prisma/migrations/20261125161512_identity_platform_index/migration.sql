-- CreateIndex
CREATE INDEX "ChatIdentity_channel_platformUserId_idx" ON "ChatIdentity"("channel", "platformUserId");
