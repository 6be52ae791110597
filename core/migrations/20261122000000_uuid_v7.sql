-- A UUID v7 made by the database (48 bits of Unix milliseconds, then random bits), for rows one
-- statement creates in a number only known as it runs (an agent checkout's allocations): ids stay of
-- one kind, ordered by creation like those the application makes (`newId`). PostgreSQL 18's uuidv7().
create function atrium_uuid_v7() returns uuid language sql volatile parallel safe as $$
  select encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
