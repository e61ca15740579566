-- The demo database `shop`: a few users, orders and order lines, mapped by
-- config/examples/mapping.yml. Loaded by scripts/quickstart (psql -1 -f) and by docker-compose.yml
-- (/docker-entrypoint-initdb.d/, into the database POSTGRES_DB=shop) - edit it for both.
CREATE TABLE public.users (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  email text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.orders (
  id bigint PRIMARY KEY,
  user_id bigint REFERENCES users,
  status text NOT NULL,
  total numeric(12, 2) NOT NULL,
  placed_at timestamptz NOT NULL DEFAULT now(),
  notes jsonb
);
CREATE TABLE public.order_lines (
  order_id bigint REFERENCES orders ON DELETE CASCADE,
  line_no int,
  sku text NOT NULL,
  quantity int NOT NULL,
  price numeric(10, 2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);

-- User 3 has no orders, so it can be deleted; its email is NULL (absent from its hash).
INSERT INTO users (id, name, email) VALUES
  (1, 'Ada', 'ada@example.com'),
  (2, 'Grace Hopper', 'grace@example.com'),
  (3, 'Alan Turing', NULL);
INSERT INTO orders (id, user_id, status, total, notes) VALUES
  (1, 1, 'paid', 59.97, '{"gift": true, "message": "Happy birthday"}'),
  (2, 1, 'shipped', 15.00, NULL),
  (3, 2, 'new', 120.50, '{"coupon": "WELCOME10"}');
INSERT INTO order_lines (order_id, line_no, sku, quantity, price) VALUES
  (1, 1, 'BOOK-001', 2, 19.99),
  (1, 2, 'PEN-042', 1, 19.99),
  (2, 1, 'MUG-007', 1, 15.00),
  (3, 1, 'LAMP-300', 1, 100.50),
  (3, 2, 'BULB-009', 4, 5.00);
