"""Everything a citizen reads, from the message catalog (German source, bot/locales): the dialog
(`dialog`), /stoebern and the similar-impulse hint (`ratings`), the outcome message
(`followup`), /meinedaten (`my_data`) and what moderation tells a person about their idea
(`notices`). User text is always escaped here."""
