-- One room per declared name in a company (createRoom also serialises on the name; this is the backstop).
create unique index messenger_conversation_room_key on messenger_conversation (company_id, room_name) where kind = 'ROOM';
