-- One database and one login per service: no service can read another's tables.
CREATE USER auth WITH PASSWORD 'auth';
CREATE DATABASE auth OWNER auth;
CREATE USER project WITH PASSWORD 'project';
CREATE DATABASE project OWNER project;
CREATE USER simulation WITH PASSWORD 'simulation';
CREATE DATABASE simulation OWNER simulation;
CREATE USER traveler WITH PASSWORD 'traveler';
CREATE DATABASE traveler OWNER traveler;
CREATE USER ai WITH PASSWORD 'ai';
CREATE DATABASE ai OWNER ai;
