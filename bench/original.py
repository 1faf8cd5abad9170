"""The original start.sh's Python block, the reference this tool replaces.

Reconstructed from ../shared/SPEC.md's account of it: SQLAlchemy, an
information_schema query for the column, one SELECT COUNT(*) per candidate
code and one UPDATE per user, all in one connection. It runs with Debian's
python3-sqlalchemy and python3-psycopg2 (`apt-get install python3-sqlalchemy
python3-psycopg2`), on DATABASE_URL.
"""
import os
import random

from sqlalchemy import create_engine, text

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
engine = create_engine(os.environ["DATABASE_URL"])
with engine.begin() as conn:
    exists = conn.execute(
        text(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'user' AND column_name = 'invite_code'"
        )
    ).fetchone()
    if not exists:
        print("INFO: invite_code column does not exist yet, skipping auto-fix")
    else:
        total = conn.execute(text('SELECT COUNT(*) FROM "user"')).scalar()
        users = conn.execute(
            text("SELECT id FROM \"user\" WHERE invite_code IS NULL OR invite_code = ''")
        ).fetchall()
        if not users:
            print(f"INFO: All users have invite codes (checked {total} users)")
        else:
            print(f"INFO: Found {len(users)} users without invite codes, generating...")
            for (user_id,) in users:
                while True:
                    code = "".join(random.choices(ALPHABET, k=6))
                    taken = conn.execute(
                        text('SELECT COUNT(*) FROM "user" WHERE invite_code = :code'),
                        {"code": code},
                    ).scalar()
                    if not taken:
                        break
                conn.execute(
                    text('UPDATE "user" SET invite_code = :code WHERE id = :id'),
                    {"code": code, "id": user_id},
                )
            print(f"SUCCESS: Generated invite codes for {len(users)} users")
