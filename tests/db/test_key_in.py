"""``key_in``: the rows whose key is one of a list, the same on SQLite (an IN list) and PostgreSQL (a semi-join
with ``unnest`` of one array, which no missing statistics can turn into comparing every row with every value)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from dunning.db.bulk import key_in
from dunning.db.engine import make_engine

META = MetaData()
PEOPLE = Table("key_in_people", META, Column("id", Integer, primary_key=True), Column("phone", String(20)),
               Column("state", String(16)))



def test_the_rows_of_listed_keys_only_whatever_the_statistics(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        META.create_all(engine)
        with Session(engine) as s, s.begin():  # filled and read in one transaction: no statistics yet
            s.execute(insert(PEOPLE), [{"phone": f"+86139{i:08d}", "state": "new" if i % 3 else "closed"}
                                       for i in range(5000)])
            wanted = [f"+86139{i:08d}" for i in range(0, 5000, 7)] + ["+8613999999999", f"+86139{7:08d}"]
            got = s.execute(select(PEOPLE.c.phone).where(key_in(s, PEOPLE.c.phone, wanted),
                                                         PEOPLE.c.state == "new")).scalars().all()
        expected = {f"+86139{i:08d}" for i in range(0, 5000, 7) if i % 3}
        assert sorted(got) == sorted(expected)  # each once: a key listed twice does not double its rows
    finally:
        engine.dispose()
