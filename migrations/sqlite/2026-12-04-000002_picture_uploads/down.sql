DROP TABLE picture_uploads;
